"""Queue mutations: pause and resume (keeping the queue place) and answers to delays."""

from __future__ import annotations

import strawberry

from graphql_schema.queue.mutations import (
    delay_respond,
    order_line_pause,
    order_line_resume,
    order_pause,
    order_resume,
)


@strawberry.type
class QueueMutations:
    pause_order = order_pause.FIELD
    resume_order = order_resume.FIELD
    pause_order_line = order_line_pause.FIELD
    resume_order_line = order_line_resume.FIELD
    respond_to_delay = delay_respond.FIELD
