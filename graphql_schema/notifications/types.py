"""The ``Notification`` type: one message to a customer and where it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import policy
from app.services.notifications import admin
from graphql_schema.auth import current_actor
from graphql_schema.context import Context
from graphql_schema.enums import EventKind, NotificationStatus, NotificationTemplate
from graphql_schema.node import Node, register
from graphql_schema.orders.types import Event, Order, OrderLine, line_of
from graphql_schema.orders.types import line_number as positive_id
from graphql_schema.relay import global_id, split_global_id


@strawberry.type(
    description="A message to a customer, derived from one event (or the events of one "
    "transaction for one order), sent at most once to each recipient per template."
)
class Notification(Node):
    template: NotificationTemplate
    status: NotificationStatus
    recipient: str
    transactional: bool = strawberry.field(
        description="Part of the order (always sent); false: a reminder the customer may "
        "switch off."
    )
    event_kind: EventKind
    attempts: int
    next_attempt_at: datetime | None = strawberry.field(
        description="When a PENDING message is tried next."
    )
    last_error: str | None
    subject: str | None = strawberry.field(description="The subject line it was sent with.")
    message_id: str = strawberry.field(
        description="Made before the first attempt: a resend carries the same one."
    )
    sent_at: datetime | None
    created_at: datetime
    _order_id: strawberry.Private[Any]
    _line_ids: strawberry.Private[list[int]]
    _event_id: strawberry.Private[int]
    _db_id: strawberry.Private[int]

    @strawberry.field(description="The event that caused it.")
    async def event(self, info: Info[Context, Any]) -> Event | None:
        row = await info.context.loaders.event_by_id.load(self._event_id)
        return Event.from_row(row) if row else None

    @strawberry.field
    async def order(self, info: Info[Context, Any]) -> Order | None:
        if self._order_id is None:
            return None
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row) if row else None

    @strawberry.field(description="The lines it is about (none: the whole order).")
    async def lines(self, info: Info[Context, Any]) -> list[OrderLine]:
        found = [await line_of(info, self._order_id, i) for i in self._line_ids]
        return [line for line in found if line is not None]

    @classmethod
    def from_row(cls, row: Any) -> Notification:
        return cls(
            id=global_id("Notification", str(row["id"])),
            template=NotificationTemplate(row["template"]),
            status=NotificationStatus(row["status"]),
            recipient=row["recipient"],
            transactional=row["transactional"],
            event_kind=EventKind(row["kind"]),
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"] if row["status"] == "PENDING" else None,
            last_error=row["last_error"],
            subject=row["subject"],
            message_id=row["message_id"],
            sent_at=row["sent_at"],
            created_at=row["created_at"],
            _order_id=row["order_id"],
            _line_ids=list(row["line_ids"] or ()),
            _event_id=row["event_id"],
            _db_id=row["id"],
        )


def notification_id(value: str) -> int | None:
    parts = split_global_id(value)
    if parts is None or parts[0] != "Notification":
        return None
    return positive_id(parts[1])


async def _notification_node(info: Info[Context, Any], key: str) -> Notification | None:
    number = positive_id(key)
    if number is None or not policy.is_ops(await current_actor(info)):
        return None
    found = await admin.by_ids(info.context.services, [number])
    row = found.get(number)
    return Notification.from_row(row) if row else None


register("Notification", _notification_node)
