"""Availability, pools and selling-policy types."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry

from app.domain import availability as domain
from app.services.availability import Availability as AvailabilityAnswer
from app.services.availability import PaymentTermsView
from app.services.results import ServiceError
from app.storage.inventory import SkuRecord
from graphql_schema.errors import UserError
from graphql_schema.scalars import Long


@strawberry.enum(description="What a storefront shows for a request: which button, which promise.")
class AvailabilityState(Enum):
    IN_STOCK = "IN_STOCK"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"
    SOLD_OUT = "SOLD_OUT"


@strawberry.enum(description="Kinds of inventory pool kept per SKU.")
class PoolKind(Enum):
    READY = "READY"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"
    RESERVED = "RESERVED"
    CHANNEL = "CHANNEL"


@strawberry.enum(description="When the customer pays.")
class PaymentTermsKind(Enum):
    FULL = "FULL"
    DEPOSIT = "DEPOSIT"
    AUTHORIZE = "AUTHORIZE"


@strawberry.type
class PaymentTerms:
    kind: PaymentTermsKind
    deposit_percent: float | None
    deposit_amount_minor: Long | None

    @classmethod
    def from_view(cls, view: PaymentTermsView) -> PaymentTerms:
        return cls(
            kind=PaymentTermsKind(view.terms.value),
            deposit_percent=view.deposit_percent,
            deposit_amount_minor=long_or_none(view.deposit_minor),
        )


@strawberry.enum(description="How sure a delivery window is: it falls with supply uncertainty.")
class EstimateConfidence(Enum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    NONE = "NONE"


@strawberry.type(description="A delivery window; null dates come with a reason.")
class DeliveryEstimate:
    earliest: date | None
    latest: date | None
    reason: str | None
    confidence: EstimateConfidence | None = None


@strawberry.type(description="Part of a request served in one state, e.g. 2 IN_STOCK.")
class SplitPart:
    state: AvailabilityState
    quantity: int


@strawberry.type(description="The PDP answer for a SKU, a quantity, a channel and a region.")
class Availability:
    sku: str
    requested_quantity: int
    state: AvailabilityState
    button_label: str = strawberry.field(
        description='"Add to cart", "Pre-order", "Backorder" or "Sold out".'
    )
    message: str
    available_quantity: int | None = strawberry.field(
        description="Units that can be bought now in any state; null = unlimited."
    )
    cap_remaining: int | None = strawberry.field(
        description="Room left under the cap of the headline state; null = unlimited or no cap."
    )
    fulfillable: bool = strawberry.field(description="Whether the whole request can be placed.")
    released: bool
    delivery_estimate: DeliveryEstimate
    payment_terms: PaymentTerms | None
    split: list[SplitPart]
    channel: str | None
    region: str | None
    user_errors: list[UserError]

    @classmethod
    def from_answer(cls, a: AvailabilityAnswer) -> Availability:
        res = a.resolution
        window = a.delivery.window
        return cls(
            sku=a.sku,
            requested_quantity=res.requested,
            state=AvailabilityState(res.state.value),
            button_label=res.button_label,
            message=a.message,
            available_quantity=res.available_quantity,
            cap_remaining=res.cap_remaining,
            fulfillable=res.fulfillable,
            released=res.released,
            delivery_estimate=DeliveryEstimate(
                earliest=window.earliest if window else None,
                latest=window.latest if window else None,
                reason=a.delivery.reason,
                confidence=(
                    EstimateConfidence(a.delivery.confidence) if a.delivery.confidence else None
                ),
            ),
            payment_terms=PaymentTerms.from_view(a.payment) if a.payment else None,
            split=[
                SplitPart(state=AvailabilityState(p.state.value), quantity=p.quantity)
                for p in res.split
            ],
            channel=a.channel,
            region=a.region,
            user_errors=[],
        )

    @classmethod
    def rejected(cls, sku: str, quantity: int, errors: list[ServiceError]) -> Availability:
        """Bad input: nothing can be bought; ``userErrors`` says why."""
        return cls(
            sku=sku,
            requested_quantity=quantity,
            state=AvailabilityState.SOLD_OUT,
            button_label=domain.BUTTON_LABELS[domain.AvailabilityState.SOLD_OUT],
            message="Not available",
            available_quantity=0,
            cap_remaining=0,
            fulfillable=False,
            released=False,
            delivery_estimate=DeliveryEstimate(earliest=None, latest=None, reason=None),
            payment_terms=None,
            split=[],
            channel=None,
            region=None,
            user_errors=to_user_errors(errors),
        )


def long_or_none(value: int | None) -> Long | None:
    return Long(value) if value is not None else None


def to_user_errors(errors: list[ServiceError]) -> list[UserError]:
    return [
        UserError(field=list(e.field) if e.field else None, code=e.code, message=e.message)
        for e in errors
    ]


@strawberry.type(description="A capped counter of units for one SKU.")
class InventoryPool:
    sku: str
    kind: PoolKind
    channel: str | None
    capacity: int | None = strawberry.field(description="null = unlimited.")
    committed: int
    available: int | None = strawberry.field(description="null = unlimited.")
    incoming: int | None = strawberry.field(
        description="BACKORDER only: open inbound supply that will serve waiting demand."
    )


def pools_of(record: SkuRecord, today: date, kind: PoolKind | None = None) -> list[InventoryPool]:
    views = domain.pool_views(record.snapshot, today)
    return [
        InventoryPool(
            sku=record.snapshot.sku,
            kind=PoolKind(v.kind.value),
            channel=v.channel,
            capacity=v.capacity,
            committed=v.committed,
            available=v.available,
            incoming=v.incoming,
        )
        for v in views
        if kind is None or v.kind.value == kind.value
    ]


@strawberry.type
class PreorderSettings:
    enabled: bool
    release_date: date | None
    cap: int | None
    committed: int
    message: str | None
    payment_terms: PaymentTerms


@strawberry.type
class BackorderSettings:
    allowed: bool
    cap: int | None
    committed: int
    message: str | None
    payment_terms: PaymentTerms


def preorder_settings(record: SkuRecord) -> PreorderSettings:
    pre = record.snapshot.preorder
    return PreorderSettings(
        enabled=pre.enabled,
        release_date=record.snapshot.release_date,
        cap=pre.cap,
        committed=pre.committed,
        message=pre.message_template,
        payment_terms=PaymentTerms(
            kind=PaymentTermsKind(pre.payment.value),
            deposit_percent=record.preorder_deposit_percent,
            deposit_amount_minor=long_or_none(record.preorder_deposit_minor),
        ),
    )


def backorder_settings(record: SkuRecord) -> BackorderSettings:
    back = record.snapshot.backorder
    return BackorderSettings(
        allowed=back.allowed,
        cap=back.cap,
        committed=back.committed,
        message=back.message_template,
        payment_terms=PaymentTerms(
            kind=PaymentTermsKind(back.payment.value),
            deposit_percent=record.backorder_deposit_percent,
            deposit_amount_minor=long_or_none(record.backorder_deposit_minor),
        ),
    )
