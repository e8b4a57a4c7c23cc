"""Channel intake, the pure part: what every adapter turns a channel's payload into (one
``IntakeOrder``), why a payload is refused (``Refusal``, errors as data), the per-channel and
per-account rules, the webhook signature, and the impact score that ranks dead letters.

An adapter (``app.domain.intake.adapters``) reads one decoded payload of its channel's shape;
it never touches the database: SKU maps, rules and placement are the use case's
(``app.services.intake``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class IntakeStatus(StrEnum):
    RECEIVED = "RECEIVED"  # stored, its first attempt under way
    ACCEPTED = "ACCEPTED"  # an order
    INVALID = "INVALID"  # refused for good; the sender was told why
    RETRYING = "RETRYING"  # failed for a passing reason; tried again at nextAttemptAt
    DEAD = "DEAD"  # every attempt failed for a passing reason: ops decide
    DISCARDED = "DISCARDED"  # closed by ops, with a reason


class RefusalCode(StrEnum):
    """Why a payload is INVALID (permanent: the sender is told, nothing is retried)."""

    MALFORMED = "MALFORMED"  # not JSON / CSV of the channel's shape
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_FIELD = "INVALID_FIELD"
    UNMAPPED_SKU = "UNMAPPED_SKU"  # the channel's SKU code is not in its SKU map
    RULE = "RULE"  # a channel or account rule refused it
    DUPLICATE_CONFLICT = "DUPLICATE_CONFLICT"  # the external id came before with other content
    PLACEMENT = "PLACEMENT"  # placement refused it (the placement code is in ``detail``)
    NOT_STORED = "NOT_STORED"  # a batch's receipt the database could not take: send it again


@dataclass(frozen=True)
class Refusal:
    field: str | None  # where in the payload, e.g. "items[1].seller_sku"
    code: RefusalCode
    message: str
    detail: str | None = None  # placement's own error code, for PLACEMENT


@dataclass(frozen=True)
class IntakeLine:
    sku: str  # the channel's code where its adapter maps SKUs, ours otherwise
    quantity: int
    unit_price_minor: int | None = None  # as the channel sold it (tax included)
    accept_backorder: bool = True
    accept_preorder: bool = True


@dataclass(frozen=True)
class IntakeOrder:
    """One order as every channel's payload becomes it, before SKU mapping and rules."""

    external_id: str
    lines: tuple[IntakeLine, ...]
    customer_email: str | None = None
    customer_name: str | None = None
    phone: str | None = None
    account: str | None = None  # the channel's account (B2B buyer, a shop's till, a seller)
    region: str | None = None
    postal_code: str | None = None
    address: Mapping[str, Any] = field(default_factory=dict)
    ship_together: bool = False
    currency: str | None = None
    declared_total_minor: int | None = None  # the order's value as the channel states it
    ship_by: datetime | None = None  # the channel's own dispatch deadline, when it sends one

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


def refused(field_: str | None, code: RefusalCode, message: str) -> list[Refusal]:
    return [Refusal(field_, code, message)]
