"""Carrier services: transit days per region and service (a region's own are its default)."""

from __future__ import annotations

from typing import Any

from app.domain.events import Event, EventKind, Subject
from app.domain.text import clean_text
from app.services.container import Services
from app.services.error_codes import ShippingErrorCode as E
from app.services.results import Actor, Result, ServiceError
from app.storage import ledger
from app.storage import reference as store

MAX_DAYS = 365


async def set_carrier_service(
    services: Services,
    actor: Actor,
    region: str,
    code: str,
    name: str,
    transit_min_days: int,
    transit_max_days: int,
) -> Result[Any]:
    """Create or change a carrier service of a region; promises made after it use its days."""
    errors: list[ServiceError] = []
    clean = code.strip().upper()
    if not (clean and len(clean) <= 32 and clean_text(clean) and name.strip() and clean_text(name)):
        errors.append(ServiceError(("input", "code"), E.INVALID, "A code (1-32 chars) and a name."))
    if not 0 <= transit_min_days <= transit_max_days <= MAX_DAYS:
        errors.append(
            ServiceError(
                ("input", "transitMinDays"),
                E.INVALID,
                f"Transit days: 0 <= min <= max <= {MAX_DAYS}.",
            )
        )
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        if not clean_text(region) or not await store.region_exists(conn, region):
            return Result.fail(E.UNKNOWN_REGION, f"No region {region!r}.", "input", "region")
        before = await store.carrier_service_for_update(conn, region, clean)
        row = await store.upsert_carrier_service(
            conn, region, clean, name.strip(), transit_min_days, transit_max_days
        )
        await ledger.append(
            conn,
            [
                Event(
                    EventKind.CARRIER_SERVICE_SET,
                    Subject.CARRIER_SERVICE,
                    f"{region}/{clean}",
                    actor.name,
                    {"name": name.strip(), "min": transit_min_days, "max": transit_max_days},
                    dict(before) if before else None,
                )
            ],
        )
        await uow.commit()
    services.cache.clear()
    return Result(row)


async def list_carrier_services(services: Services, region: str | None) -> list[Any]:
    if not clean_text(region):
        return []
    async with services.read() as conn:
        return list(await store.carrier_services(conn, region))
