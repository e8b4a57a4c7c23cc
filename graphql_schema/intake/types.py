"""Types of the channel intake."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import strawberry
from strawberry.types import Info

from app.domain.intake import IntakeStatus, RefusalCode
from app.domain.intake.rules import RULES
from app.services import policy
from app.services.intake import admin
from graphql_schema.auth import current_actor
from graphql_schema.context import Context
from graphql_schema.money import Money, money
from graphql_schema.node import Node, register
from graphql_schema.orders.types import Order
from graphql_schema.orders.types import line_number as positive_id
from graphql_schema.relay import global_id, split_global_id
from graphql_schema.scalars import Long

strawberry.enum(IntakeStatus, description="Where an intake payload is.")
strawberry.enum(
    RefusalCode,
    name="IntakeRefusalCode",
    description="Why a payload was refused (PLACEMENT: placeOrder's code is in `detail`).",
)


@strawberry.type(description="One reason a payload was refused, with where in the payload.")
class IntakeRefusal:
    field: str | None = strawberry.field(description="e.g. items[1].seller_sku")
    code: RefusalCode
    message: str
    detail: str | None = strawberry.field(description="placeOrder's error code, for PLACEMENT.")


@strawberry.type(
    description="An order payload from a channel, stored as received, and what became of it. "
    "The payload itself is never shown here (it holds personal data); it is emptied after "
    "OMS_INTAKE_RETENTION_DAYS."
)
class IntakeMessage(Node):
    channel: str
    adapter: str
    external_id: str | None = strawberry.field(description="The channel's order id.")
    account: str | None = strawberry.field(description="The channel's account (a shop, a buyer).")
    status: IntakeStatus
    attempts: int
    deliveries: int = strawberry.field(description="How often the channel sent it.")
    received_at: datetime
    processed_at: datetime | None
    next_attempt_at: datetime | None = strawberry.field(description="When RETRYING: the next try.")
    error_code: str | None = strawberry.field(
        description="The last failure: a refusal code, TRANSIENT or INTERNAL."
    )
    error_message: str | None
    errors: list[IntakeRefusal] = strawberry.field(description="Every reason, when INVALID.")
    impact_score: float = strawberry.field(
        description="(value in major units + 10 per unit) x urgency (3 past the dispatch "
        "deadline, 2 within a day, 1.5 within three days): most valuable first."
    )
    value: Money | None = strawberry.field(description="The order's value, as far as known.")
    units: int | None
    sla_deadline: datetime | None = strawberry.field(
        description="The channel's dispatch deadline for it (its own, else received + SLA)."
    )
    discarded_reason: str | None
    payload_retained: bool = strawberry.field(
        description="False once the raw payload was emptied (it can no longer be retried)."
    )
    batch_id: Long | None = strawberry.field(description="The till upload it came in.")
    _order_id: strawberry.Private[Any]
    _db_id: strawberry.Private[int]

    @strawberry.field(description="The order it became.")
    async def order(self, info: Info[Context, Any]) -> Order | None:
        if self._order_id is None:
            return None
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: Any) -> IntakeMessage:
        errors = row["errors"]
        if isinstance(errors, str):
            errors = orjson.loads(errors)
        value = None
        if row["value_minor"] is not None and row["currency"]:
            value = money(row["value_minor"], row["currency"])
        return cls(
            id=global_id("IntakeMessage", str(row["id"])),
            channel=row["channel_code"],
            adapter=row["adapter"],
            external_id=row["external_id"],
            account=row["account"],
            status=IntakeStatus(row["status"]),
            attempts=row["attempts"],
            deliveries=row["deliveries"],
            received_at=row["received_at"],
            processed_at=row["processed_at"],
            next_attempt_at=row["next_attempt_at"] if row["status"] == "RETRYING" else None,
            error_code=row["error_code"],
            error_message=row["error_message"],
            errors=[
                IntakeRefusal(
                    field=e.get("field"),
                    code=RefusalCode(e["code"]),
                    message=e["message"],
                    detail=e.get("detail"),
                )
                for e in errors or ()
                if e.get("code") in RefusalCode.__members__
            ],
            impact_score=row["impact_score"],
            value=value,
            units=row["units"],
            sla_deadline=row["sla_deadline"],
            discarded_reason=row["discarded_reason"],
            payload_retained=row["has_payload"],
            batch_id=row["batch_id"],
            _order_id=row["order_id"],
            _db_id=row["id"],
        )


def intake_message_id(value: str) -> int | None:
    parts = split_global_id(value)
    if parts is None or parts[0] != "IntakeMessage":
        return None
    return positive_id(parts[1])


async def _node(info: Info[Context, Any], key: str) -> IntakeMessage | None:
    number = positive_id(key)
    if number is None or not policy.is_ops(await current_actor(info)):
        return None
    row = (await admin.by_ids(info.context.services, [number])).get(number)
    return IntakeMessage.from_row(row) if row else None


register("IntakeMessage", _node)


@strawberry.type(
    description="Intake rules: what a channel (or one account on it) requires and allows. "
    "Unset: the default."
)
class IntakeRules:
    require_email: bool | None = strawberry.field(
        default=None, description="Refuse orders without the customer's e-mail (default true)."
    )
    require_name: bool | None = strawberry.field(default=None, description="Default true.")
    require_phone: bool | None = strawberry.field(default=None, description="Default false.")
    require_postal_code: bool | None = strawberry.field(default=None, description="Default false.")
    enforce_customer_limits: bool | None = strawberry.field(
        default=None,
        description="The channel's unit limits bind (default true); false frees an account "
        "from them (a B2B buyer).",
    )
    allow_preorder: bool | None = strawberry.field(
        default=None, description="Pre-orders may come this way (default true)."
    )
    allow_backorder: bool | None = strawberry.field(
        default=None, description="Backorders may come this way (default true)."
    )
    max_lines: int | None = strawberry.field(default=None, description="Most lines per order.")
    default_region: str | None = strawberry.field(
        default=None, description="The region of orders that name none."
    )
    fallback_email: str | None = strawberry.field(
        default=None, description="The contact of orders without one (a till's walk-in sale)."
    )
    fallback_name: str | None = strawberry.field(default=None)

    @classmethod
    def from_json(cls, data: Any) -> IntakeRules:
        if isinstance(data, str):
            data = orjson.loads(data)
        return cls(**{RULES[k]: v for k, v in (data or {}).items() if k in RULES})


@strawberry.input(description="Intake rules; a field left out (or null) keeps the default.")
class IntakeRulesInput:
    require_email: bool | None = None
    require_name: bool | None = None
    require_phone: bool | None = None
    require_postal_code: bool | None = None
    enforce_customer_limits: bool | None = None
    allow_preorder: bool | None = None
    allow_backorder: bool | None = None
    max_lines: int | None = None
    default_region: str | None = None
    fallback_email: str | None = None
    fallback_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        by_attr = {attr: key for key, attr in RULES.items()}
        return {
            by_attr[name]: value
            for name, value in vars(self).items()
            if name in by_attr and value is not None
        }


@strawberry.type(description="An account's own rules on a channel.")
class IntakeAccountRules:
    account: str
    rules: IntakeRules


@strawberry.type(description="A channel's intake: its adapter, rules and accounts' rules.")
class IntakeChannel:
    channel: str
    adapter: str
    rules: IntakeRules
    accounts: list[IntakeAccountRules]
    mapped_skus: int = strawberry.field(description="How many SKU codes its map holds.")
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> IntakeChannel:
        accounts = row["accounts"]
        if isinstance(accounts, str):
            accounts = orjson.loads(accounts)
        return cls(
            channel=row["channel_code"],
            adapter=row["adapter"],
            rules=IntakeRules.from_json(row["rules"]),
            accounts=[
                IntakeAccountRules(account=a, rules=IntakeRules.from_json(r))
                for a, r in sorted(accounts.items())
            ],
            mapped_skus=row["mapped_skus"],
            updated_at=row["updated_at"],
        )


@strawberry.type(description="One channel's intake over a period.")
class IntakeHealth:
    channel: str
    received: int
    accepted: int
    rejected: int = strawberry.field(description="INVALID: refused for good.")
    retrying: int
    dead: int
    discarded: int
    duplicates: int = strawberry.field(description="Deliveries of an order received before.")
    p50_ms: float | None = strawberry.field(description="Arrival to answer, median (ms).")
    p99_ms: float | None = strawberry.field(description="Arrival to answer, 99th percentile.")

    @classmethod
    def from_row(cls, row: Any) -> IntakeHealth:
        return cls(
            channel=row["channel_code"],
            received=row["received"],
            accepted=row["accepted"],
            rejected=row["rejected"],
            retrying=row["retrying"],
            dead=row["dead"],
            discarded=row["discarded"],
            duplicates=row["duplicates"],
            p50_ms=row["p50_ms"],
            p99_ms=row["p99_ms"],
        )
