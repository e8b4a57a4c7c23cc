"""The PDP answer: which button, which message, which date, how a request would be split."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.domain.availability import (
    DEFAULT_MESSAGES,
    MAX_UNITS,
    AvailabilityState,
    DateWindow,
    PaymentTerms,
    Resolution,
    ready_delivery_window,
    release_delivery_window,
    render_message,
    resolve,
)
from app.domain.estimates import Handling, estimate_line
from app.domain.lines import LineState, LineStatus
from app.services.container import Services
from app.services.error_codes import CatalogErrorCode
from app.services.reference import ReferenceData, RegionTransit
from app.services.results import Result
from app.storage.inventory import SkuRecord

NO_SUPPLY = "No inbound supply is scheduled for this product yet."
NO_REGION = "No region given and no default region is configured."


@dataclass(frozen=True)
class DeliveryEstimate:
    window: DateWindow | None
    reason: str | None = None
    confidence: str | None = None


@dataclass(frozen=True)
class PaymentTermsView:
    terms: PaymentTerms
    deposit_percent: float | None
    deposit_minor: int | None


@dataclass(frozen=True)
class Availability:
    sku: str
    resolution: Resolution
    message: str
    delivery: DeliveryEstimate
    payment: PaymentTermsView | None
    channel: str | None
    region: str | None


def answer(
    record: SkuRecord,
    quantity: int,
    today: date,
    channel: str | None,
    region: RegionTransit | None,
    handling_days: int,
) -> Availability:
    snap = record.snapshot
    res = resolve(snap, quantity, today, channel)
    return Availability(
        sku=snap.sku,
        resolution=res,
        message=_message(record, res, today),
        delivery=_delivery(record, res, today, region, handling_days),
        payment=_payment(record, res.state),
        channel=channel,
        region=region.code if region else None,
    )


def _message(record: SkuRecord, res: Resolution, today: date) -> str:
    snap = record.snapshot
    template: str | None = None
    if res.state is AvailabilityState.PRE_ORDER:
        template = snap.preorder.message_template
    elif res.state is AvailabilityState.BACKORDER:
        template = snap.backorder.message_template
    if (
        res.state is AvailabilityState.SOLD_OUT
        and not res.released
        and not snap.preorder.enabled
        and snap.release_date
    ):
        template = "Available from {date}"
    return render_message(template or DEFAULT_MESSAGES[res.state], snap.release_date, today)


def _delivery(
    record: SkuRecord,
    res: Resolution,
    today: date,
    region: RegionTransit | None,
    handling_days: int,
) -> DeliveryEstimate:
    if region is None:
        return DeliveryEstimate(None, NO_REGION)
    state = res.state
    if state is AvailabilityState.IN_STOCK:
        return in_stock_delivery(today, region, handling_days)
    if state in (AvailabilityState.PRE_ORDER, AvailabilityState.BACKORDER):
        return _waiting_delivery(record, res, today, region, handling_days)
    return DeliveryEstimate(None, "Sold out.")


def in_stock_delivery(
    ordered_on: date, region: RegionTransit, handling_days: int
) -> DeliveryEstimate:
    """Stock on hand: handling, then the region's transit by its carrier service, counted
    from the day of the order (store time). What the PDP shows for IN_STOCK, and what a READY
    line keeps once ordered (``in_stock_line_estimate``)."""
    return DeliveryEstimate(
        ready_delivery_window(
            ordered_on, handling_days, region.transit_min_days, region.transit_max_days
        ),
        confidence="HIGH",
    )


def in_stock_line_estimate(
    services: Services,
    reference: ReferenceData,
    state: str,
    status: str,
    placed_at: datetime,
    region_code: str | None,
    carrier_service: str | None,
) -> DeliveryEstimate | None:
    """A READY line's window: the one the PDP showed when it was ordered, for the order's
    region and carrier service (``in_stock_delivery`` from the placement day, store time). It
    stays once the line has shipped; a cancelled line, or a line that is not READY (its window
    is its promise), has none here."""
    if state != LineState.READY or status not in (LineStatus.RESERVED, LineStatus.SHIPPED):
        return None
    region = reference.transit_or_default(region_code, carrier_service)
    if region is None:
        return DeliveryEstimate(None, NO_REGION)
    ordered_on = placed_at.astimezone(services.store_tz).date()
    return in_stock_delivery(ordered_on, region, services.settings.handling_days)


def _waiting_delivery(
    record: SkuRecord, res: Resolution, today: date, region: RegionTransit, handling_days: int
) -> DeliveryEstimate:
    """The window the next customer gets: behind every unit already waiting, against the
    supply schedule (the same rule that promises the waiting lines)."""
    snap = record.snapshot
    sources = record.supply_sources(today)
    waiting = sum(p.quantity for p in res.split if p.state is res.state) or res.requested
    handling = Handling(handling_days, region.transit_min_days, region.transit_max_days)
    est = estimate_line(record.waiting_units, waiting, sources, today, handling, snap.release_date)
    if est.earliest is not None and est.latest is not None:
        return DeliveryEstimate(
            DateWindow(est.earliest, est.latest), est.reason, est.confidence.value
        )
    if res.state is AvailabilityState.PRE_ORDER:
        if snap.release_date is None:
            return DeliveryEstimate(None, "The release date has not been announced yet.", "NONE")
        # No supply booked yet: the launch date is the best promise, with low confidence.
        return DeliveryEstimate(
            release_delivery_window(
                snap.release_date,
                today,
                handling_days,
                region.transit_min_days,
                region.transit_max_days,
            ),
            "No supply is booked yet; the window follows the launch date.",
            "LOW",
        )
    if not record.supply:
        return DeliveryEstimate(None, NO_SUPPLY, "NONE")
    return DeliveryEstimate(None, est.reason, "NONE")


def _payment(record: SkuRecord, state: AvailabilityState) -> PaymentTermsView | None:
    if state is AvailabilityState.IN_STOCK:
        return PaymentTermsView(PaymentTerms.FULL, None, None)
    if state is AvailabilityState.PRE_ORDER:
        return PaymentTermsView(
            record.snapshot.preorder.payment,
            record.preorder_deposit_percent,
            record.preorder_deposit_minor,
        )
    if state is AvailabilityState.BACKORDER:
        return PaymentTermsView(
            record.snapshot.backorder.payment,
            record.backorder_deposit_percent,
            record.backorder_deposit_minor,
        )
    return None


async def product_availability(
    services: Services,
    record: SkuRecord | None,
    sku: str,
    quantity: int,
    channel: str | None,
    region_code: str | None,
    reference: ReferenceData,
    carrier_service: str | None = None,
) -> Result[Availability]:
    if quantity < 1:
        return Result.fail(
            CatalogErrorCode.INVALID_QUANTITY, "Quantity must be at least 1.", "quantity"
        )
    if quantity > MAX_UNITS:
        return Result.fail(
            CatalogErrorCode.INVALID_QUANTITY, f"Quantity must be at most {MAX_UNITS}.", "quantity"
        )
    if record is None:
        return Result.fail(CatalogErrorCode.NOT_FOUND, f"No product with SKU {sku!r}.", "sku")
    if channel is not None and channel not in reference.channels:
        return Result.fail(CatalogErrorCode.UNKNOWN_CHANNEL, f"No channel {channel!r}.", "channel")
    region = reference.regions.get(region_code or "")
    if region_code and region is None:
        return Result.fail(CatalogErrorCode.UNKNOWN_REGION, f"No region {region_code!r}.", "region")
    if carrier_service is not None:
        region = reference.transit(region_code, carrier_service)
        if region is None:
            return Result.fail(
                CatalogErrorCode.UNKNOWN_CARRIER_SERVICE,
                f"No carrier service {carrier_service!r} in this region.",
                "carrierService",
            )
    return Result(
        answer(record, quantity, services.today(), channel, region, services.settings.handling_days)
    )
