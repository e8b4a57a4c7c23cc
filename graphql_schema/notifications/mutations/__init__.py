"""Notification mutations: send again (ops), unsubscribe (a link), "notify me" sign-ups."""

from __future__ import annotations

import strawberry

from graphql_schema.notifications.mutations import (
    availability_alert_confirm,
    availability_alert_request,
    notification_retry,
    notifications_replay,
    reminders_unsubscribe,
)


@strawberry.type
class NotificationMutations:
    retry_notification = notification_retry.FIELD
    replay_notifications = notifications_replay.FIELD
    unsubscribe_from_reminders = reminders_unsubscribe.FIELD
    request_availability_alert = availability_alert_request.FIELD
    confirm_availability_alert = availability_alert_confirm.FIELD
