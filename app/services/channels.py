"""Sales channels' settings, set by ops, each change in the event ledger with what it replaced.

- Unit limits: how many units one order line may ask for, and how many units of one SKU one
  customer may hold on open orders, on a channel (null: the settings' defaults,
  ``OMS_MAX_UNITS_PER_LINE`` and ``OMS_MAX_UNITS_PER_CUSTOMER_SKU``). Placement reads them
  with its first statement, so a change counts from the next order on, on every replica.
- Fulfilment: the dispatch SLA in hours, the daily cut-off (store time; null: the store's,
  ``OMS_DEFAULT_CUTOFF_TIME``) and whether one customer's waiting lines released together
  ship as one shipment. They shape the dispatch deadline of shipments opened from then on
  (``app.domain.shipments.dispatch_deadline``); open shipments keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from app.domain.availability import MAX_UNITS
from app.domain.dates import time_of_day
from app.domain.events import Event, EventKind, Subject
from app.services.container import Services
from app.services.error_codes import CatalogErrorCode as E
from app.services.error_codes import FulfilmentErrorCode as FE
from app.services.results import Actor, Result, ServiceError
from app.services.shipment_opening import default_cutoff
from app.storage import ledger
from app.storage import reference as store


@dataclass(frozen=True)
class ChannelLimits:
    channel: str
    per_line: int  # in force: the channel's own, else the default
    per_customer_sku: int
    own_per_line: int | None  # the channel's own (None: the default applies)
    own_per_customer_sku: int | None


def limits_of(services: Services, row: Any) -> ChannelLimits:
    settings = services.settings
    own_line, own_customer = row["max_units_per_line"], row["max_units_per_customer_sku"]
    return ChannelLimits(
        row["code"],
        own_line or settings.max_units_per_line,
        own_customer or settings.max_units_per_customer_sku,
        own_line,
        own_customer,
    )


async def set_channel_limits(
    services: Services,
    actor: Actor,
    channel: str,
    per_line: int | None,
    per_customer_sku: int | None,
) -> Result[ChannelLimits]:
    """Replace both limits of ``channel`` (None: back to the default), in the ledger with
    what they were."""
    errors = [
        ServiceError(("input", name), E.INVALID_QUANTITY, f"Between 1 and {MAX_UNITS}, or null.")
        for name, value in (
            ("maxUnitsPerLine", per_line),
            ("maxUnitsPerCustomerSku", per_customer_sku),
        )
        if value is not None and not 1 <= value <= MAX_UNITS
    ]
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        before = await store.lock_channel_limits(conn, channel)
        if before is None:
            return Result.fail(E.UNKNOWN_CHANNEL, f"No channel {channel!r}.", "input", "channel")
        row = await store.set_channel_limits(conn, channel, per_line, per_customer_sku)
        await ledger.append(
            conn,
            [
                Event(
                    EventKind.CHANNEL_LIMITS_SET,
                    Subject.CHANNEL,
                    channel,
                    actor.name,
                    {"maxUnitsPerLine": per_line, "maxUnitsPerCustomerSku": per_customer_sku},
                    {
                        "maxUnitsPerLine": before["max_units_per_line"],
                        "maxUnitsPerCustomerSku": before["max_units_per_customer_sku"],
                    },
                )
            ],
        )
        await uow.commit()
    return Result(limits_of(services, row))


MIN_SLA_HOURS = 1
MAX_SLA_HOURS = 720  # 30 days


@dataclass(frozen=True)
class ChannelFulfilment:
    channel: str
    sla_hours: int
    cutoff_time: time  # in force: the channel's own, else the store's
    own_cutoff_time: time | None  # the channel's own (None: the store's applies)
    auto_consolidate: bool


def fulfilment_of(services: Services, row: Any) -> ChannelFulfilment:
    own: time | None = row["cutoff_time"]
    return ChannelFulfilment(
        row["code"],
        row["sla_hours"],
        own if own is not None else default_cutoff(services),
        own,
        row["auto_consolidate"],
    )


def _hhmm(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


async def set_channel_fulfilment(
    services: Services,
    actor: Actor,
    channel: str,
    sla_hours: int,
    cutoff_time: str | None,
    auto_consolidate: bool,
) -> Result[ChannelFulfilment]:
    """Replace the fulfilment settings of ``channel`` (a null cut-off: the store's), in the
    ledger with what they were."""
    errors: list[ServiceError] = []
    if not MIN_SLA_HOURS <= sla_hours <= MAX_SLA_HOURS:
        errors.append(
            ServiceError(
                ("input", "slaHours"),
                FE.INVALID,
                f"Between {MIN_SLA_HOURS} and {MAX_SLA_HOURS} hours.",
            )
        )
    cutoff = None if cutoff_time is None else time_of_day(cutoff_time)
    if cutoff_time is not None and cutoff is None:
        errors.append(
            ServiceError(
                ("input", "cutoffTime"), FE.INVALID, "A time of day as HH:MM (00:00 to 23:59)."
            )
        )
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        before = await store.lock_channel_fulfilment(conn, channel)
        if before is None:
            return Result.fail(FE.UNKNOWN_CHANNEL, f"No channel {channel!r}.", "input", "channel")
        row = await store.set_channel_fulfilment(conn, channel, sla_hours, cutoff, auto_consolidate)
        await ledger.append(
            conn,
            [
                Event(
                    EventKind.CHANNEL_FULFILMENT_SET,
                    Subject.CHANNEL,
                    channel,
                    actor.name,
                    {
                        "slaHours": sla_hours,
                        "cutoffTime": _hhmm(cutoff),
                        "autoConsolidate": auto_consolidate,
                    },
                    {
                        "slaHours": before["sla_hours"],
                        "cutoffTime": _hhmm(before["cutoff_time"]),
                        "autoConsolidate": before["auto_consolidate"],
                    },
                )
            ],
        )
        await uow.commit()
    return Result(fulfilment_of(services, row))
