"""Carrier services: transit days per region and service (a region's own are its default)."""

from __future__ import annotations

from typing import Any

import orjson

from app.services.container import Services
from app.services.results import Actor, Result, ServiceError

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
    if not clean or len(clean) > 32 or "\x00" in clean or not name.strip() or "\x00" in name:
        errors.append(ServiceError(("input", "code"), "INVALID", "A code (1-32 chars) and a name."))
    if not 0 <= transit_min_days <= transit_max_days <= MAX_DAYS:
        errors.append(
            ServiceError(
                ("input", "transitMinDays"),
                "INVALID",
                f"Transit days: 0 <= min <= max <= {MAX_DAYS}.",
            )
        )
    if errors:
        return Result(errors=errors)
    async with services.raw_uow() as uow:
        conn = uow.conn
        if "\x00" in region or not await conn.fetchval(
            "SELECT 1 FROM regions WHERE code = $1", region
        ):
            return Result.fail("UNKNOWN_REGION", f"No region {region!r}.", "input", "region")
        before = await conn.fetchrow(
            "SELECT name, transit_min_days, transit_max_days FROM carrier_services "
            "WHERE region_code = $1 AND code = $2 FOR UPDATE",
            region,
            clean,
        )
        row = await conn.fetchrow(
            "INSERT INTO carrier_services (region_code, code, name, transit_min_days, "
            "transit_max_days) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (region_code, code) "
            "DO UPDATE SET name = EXCLUDED.name, transit_min_days = EXCLUDED.transit_min_days, "
            "transit_max_days = EXCLUDED.transit_max_days RETURNING *",
            region,
            clean,
            name.strip(),
            transit_min_days,
            transit_max_days,
        )
        await conn.execute(
            "INSERT INTO audit_events (entity, entity_id, action, actor, before, after) "
            "VALUES ('carrier_service', $1, 'carrier_service.set', $2, $3::jsonb, $4::jsonb)",
            f"{region}/{clean}",
            actor.name,
            orjson.dumps(dict(before)).decode() if before else None,
            orjson.dumps(
                {"name": name.strip(), "min": transit_min_days, "max": transit_max_days}
            ).decode(),
        )
        await uow.commit()
    services.cache.clear()
    return Result(row)


async def list_carrier_services(services: Services, region: str | None) -> list[Any]:
    if region is not None and "\x00" in region:
        return []
    async with services.read_pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT region_code, code, name, transit_min_days, transit_max_days "
            "FROM carrier_services WHERE ($1::text IS NULL OR region_code = $1) "
            "ORDER BY region_code, code",
            region,
        )
    return list(rows)
