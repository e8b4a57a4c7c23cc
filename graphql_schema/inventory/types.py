"""Availability, pools and selling-policy types."""

from __future__ import annotations

from datetime import date

import strawberry

from app.domain import availability as domain
from app.services.availability import Availability as AvailabilityAnswer
from app.services.availability import DeliveryEstimate as DeliveryView
from app.services.availability import PaymentTermsView
from app.storage.inventory import SkuRecord
from graphql_schema.enums import AvailabilityState, EstimateConfidence, PaymentTermsKind, PoolKind
from graphql_schema.money import Money, money


@strawberry.type(description="How a pre-order or backorder is paid.")
class PaymentTerms:
    kind: PaymentTermsKind
    deposit_percent: float | None = strawberry.field(description="DEPOSIT: percent paid now.")
    deposit_amount: Money | None = strawberry.field(
        description="DEPOSIT: the amount per unit paid now."
    )

    @classmethod
    def from_view(cls, view: PaymentTermsView, currency: str) -> PaymentTerms:
        return cls(
            kind=view.terms,
            deposit_percent=view.deposit_percent,
            deposit_amount=_money(view.deposit_minor, currency),
        )


@strawberry.type(description="A delivery window; null dates come with a reason.")
class DeliveryEstimate:
    earliest: date | None
    latest: date | None
    reason: str | None
    confidence: EstimateConfidence | None = None

    @classmethod
    def from_view(cls, view: DeliveryView) -> DeliveryEstimate:
        window = view.window
        return cls(
            earliest=window.earliest if window else None,
            latest=window.latest if window else None,
            reason=view.reason,
            confidence=EstimateConfidence(view.confidence) if view.confidence else None,
        )


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

    @classmethod
    def from_answer(cls, a: AvailabilityAnswer, currency: str) -> Availability:
        res = a.resolution
        return cls(
            sku=a.sku,
            requested_quantity=res.requested,
            state=res.state,
            button_label=res.button_label,
            message=a.message,
            available_quantity=res.available_quantity,
            cap_remaining=res.cap_remaining,
            fulfillable=res.fulfillable,
            released=res.released,
            delivery_estimate=DeliveryEstimate.from_view(a.delivery),
            payment_terms=PaymentTerms.from_view(a.payment, currency) if a.payment else None,
            split=[SplitPart(state=p.state, quantity=p.quantity) for p in res.split],
            channel=a.channel,
            region=a.region,
        )


def _money(amount_minor: int | None, currency: str) -> Money | None:
    return money(amount_minor, currency) if amount_minor is not None else None


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
    _pool_id: strawberry.Private[int | None] = None


def pools_of(record: SkuRecord, today: date, kind: PoolKind | None = None) -> list[InventoryPool]:
    views = domain.pool_views(record.snapshot, today)
    return [
        InventoryPool(
            sku=record.snapshot.sku,
            kind=v.kind,
            channel=v.channel,
            capacity=v.capacity,
            committed=v.committed,
            available=v.available,
            incoming=v.incoming,
        )
        for v in views
        if kind is None or v.kind == kind
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
            kind=pre.payment,
            deposit_percent=record.preorder_deposit_percent,
            deposit_amount=_money(record.preorder_deposit_minor, record.currency),
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
            kind=back.payment,
            deposit_percent=record.backorder_deposit_percent,
            deposit_amount=_money(record.backorder_deposit_minor, record.currency),
        ),
    )
