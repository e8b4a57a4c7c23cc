"""Sales channels' unit limits: how many units one order line may ask for, and how many
units of one SKU one customer may hold on open orders, on a channel (ops set them; null: the
settings' defaults, ``OMS_MAX_UNITS_PER_LINE`` and ``OMS_MAX_UNITS_PER_CUSTOMER_SKU``).

Placement reads them with its first statement, so a change counts from the next order on,
on every replica."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.availability import MAX_UNITS
from app.domain.events import Event, EventKind, Subject
from app.services.container import Services
from app.services.error_codes import CatalogErrorCode as E
from app.services.results import Actor, Result, ServiceError
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
