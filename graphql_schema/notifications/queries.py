"""Ops views of messages to customers: every message with its status, and the delays whose
customer could not be told (their time to answer has not started)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.services import policy
from app.services.notifications import admin
from graphql_schema.auth import require
from graphql_schema.context import Context
from graphql_schema.enums import NotificationStatus, NotificationTemplate
from graphql_schema.errors import PublicError
from graphql_schema.notifications.types import Notification
from graphql_schema.orders.types import Order, OrderLine, line_of
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_int_cursor,
    make_connection,
)

OPS_ONLY = "Messages to customers need the 'ops' scope."
MAX_RECIPIENT = 320


@strawberry.input(description="Which messages; all when empty.")
class NotificationFilterInput:
    statuses: list[NotificationStatus] | None = None
    template: NotificationTemplate | None = None
    recipient: str | None = strawberry.field(default=None, description="An e-mail address.")


@strawberry.type(
    description="A line asked to accept a delay whose message could not be delivered (DEAD or "
    "UNCONFIRMED): its time to answer has not started; reach the customer another way or "
    "retry the message."
)
class UndeliveredDelayNotice:
    notification: Notification
    _order_id: strawberry.Private[Any]
    _line_id: strawberry.Private[int]

    @strawberry.field
    async def order(self, info: Info[Context, Any]) -> Order | None:
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row) if row else None

    @strawberry.field
    async def line(self, info: Info[Context, Any]) -> OrderLine | None:
        return await line_of(info, self._order_id, self._line_id)


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="Messages to customers, newest first (ops).")
    async def notifications(
        self,
        info: Info[Context, Any],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: NotificationFilterInput | None = None,
    ) -> Connection[Notification]:
        await require(info, policy.is_ops, OPS_ONLY)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        before = decode_int_cursor("notification", after)
        flt = filter or NotificationFilterInput()
        if flt.recipient is not None and len(flt.recipient) > MAX_RECIPIENT:
            raise PublicError("Not an e-mail address.", "INVALID", ["filter", "recipient"])
        statuses = [s.value for s in flt.statuses] if flt.statuses else None
        template = flt.template.value if flt.template else None
        rows = await admin.page(services, statuses, template, flt.recipient, before, size + 1)

        async def count() -> int:
            return await admin.count(services, statuses, template, flt.recipient)

        return make_connection(
            [Notification.from_row(r) for r in rows],
            size,
            key=lambda n: str(n._db_id),
            kind="notification",
            has_previous=before is not None,
            count=count,
        )

    @strawberry.field(
        description="Delays waiting for the customer's answer whose message could not be "
        "delivered (ops): their time to answer has not started."
    )
    async def undelivered_delay_notices(
        self,
        info: Info[Context, Any],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
    ) -> list[UndeliveredDelayNotice]:
        await require(info, policy.is_ops, OPS_ONLY)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        rows = await admin.untold_delays(services, size)
        notes = await admin.by_ids(services, [r["notification_id"] for r in rows])
        return [
            UndeliveredDelayNotice(
                notification=Notification.from_row(notes[r["notification_id"]]),
                _order_id=r["order_id"],
                _line_id=r["line_id"],
            )
            for r in rows
            if r["notification_id"] in notes
        ]
