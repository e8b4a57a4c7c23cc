"""Reference data: channels, regions (transit days), carrier services and stock locations.

A code that cannot be stored (``app.domain.text.lookup_key``) names nothing: the look-ups
answer so without a statement (which PostgreSQL would refuse)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any

import asyncpg

from app.domain.text import lookup_key

REFERENCE_SQL = """
SELECT 'region' AS what, code, NULL AS service, transit_min_days, transit_max_days,
       is_default, NULL AS kind, false AS priority
FROM regions
UNION ALL SELECT 'channel', code, NULL, 0, 0, false, kind, priority FROM channels
UNION ALL SELECT 'service', region_code, code, transit_min_days, transit_max_days, false, NULL,
                 false
FROM carrier_services
"""


async def reference_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every region, channel and carrier service, in one round trip."""
    rows: list[asyncpg.Record] = await conn.fetch(REFERENCE_SQL)
    return rows


async def channel_row(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    if not lookup_key(code):
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT code, kind, priority, sla_hours FROM channels WHERE code = $1", code
    )
    return row


async def channel_exists(conn: asyncpg.Connection, code: str) -> bool:
    if not lookup_key(code):
        return False
    return bool(await conn.fetchval("SELECT 1 FROM channels WHERE code = $1", code))


async def location_exists(conn: asyncpg.Connection, code: str) -> bool:
    if not lookup_key(code):
        return False
    return bool(await conn.fetchval("SELECT 1 FROM locations WHERE code = $1", code))


async def region_exists(conn: asyncpg.Connection, code: str) -> bool:
    if not lookup_key(code):
        return False
    return bool(await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", code))


async def carrier_service_for_update(
    conn: asyncpg.Connection, region: str, code: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT name, transit_min_days, transit_max_days FROM carrier_services "
        "WHERE region_code = $1 AND code = $2 FOR UPDATE",
        region,
        code,
    )
    return row


async def upsert_carrier_service(
    conn: asyncpg.Connection, region: str, code: str, name: str, tmin: int, tmax: int
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        "INSERT INTO carrier_services (region_code, code, name, transit_min_days, "
        "transit_max_days) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (region_code, code) "
        "DO UPDATE SET name = EXCLUDED.name, transit_min_days = EXCLUDED.transit_min_days, "
        "transit_max_days = EXCLUDED.transit_max_days RETURNING *",
        region,
        code,
        name,
        tmin,
        tmax,
    )
    assert row is not None
    return row


async def carrier_services(conn: asyncpg.Connection, region: str | None) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT region_code, code, name, transit_min_days, transit_max_days "
        "FROM carrier_services WHERE ($1::text IS NULL OR region_code = $1) "
        "ORDER BY region_code, code",
        region,
    )
    return rows


async def insert_missing(
    conn: asyncpg.Connection,
    channels: Sequence[tuple[str, str, str, int, bool]],
    regions: Sequence[tuple[str, str, int, int, bool]],
    locations: Sequence[tuple[str, str]],
    services: Sequence[tuple[str, str, str, int, int]],
) -> None:
    """Reference rows that do not exist yet (the demo store's, the tests')."""
    statements: list[tuple[str, Sequence[tuple[Any, ...]]]] = [
        (
            "INSERT INTO channels (code, name, kind, sla_hours, priority) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING",
            channels,
        ),
        (
            "INSERT INTO regions (code, name, transit_min_days, transit_max_days, is_default) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING",
            regions,
        ),
        ("INSERT INTO locations (code, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", locations),
        (
            "INSERT INTO carrier_services (region_code, code, name, transit_min_days, "
            "transit_max_days) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            services,
        ),
    ]
    for sql, rows in statements:
        if rows:
            await conn.executemany(sql, rows)


async def lock_channel_limits(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """A channel's unit limits (null: the defaults), its row locked; None when no channel."""
    if not lookup_key(code):
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT code, max_units_per_line, max_units_per_customer_sku FROM channels "
        "WHERE code = $1 FOR NO KEY UPDATE",
        code,
    )
    return row


async def set_channel_limits(
    conn: asyncpg.Connection, code: str, per_line: int | None, per_customer_sku: int | None
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE channels SET max_units_per_line = $2, max_units_per_customer_sku = $3 "
        "WHERE code = $1 RETURNING code, max_units_per_line, max_units_per_customer_sku",
        code,
        per_line,
        per_customer_sku,
    )
    assert row is not None
    return row


CHANNEL_FULFILMENT = "code, sla_hours, cutoff_time, auto_consolidate"


async def lock_channel_fulfilment(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """A channel's fulfilment settings (SLA, cut-off, auto-consolidation), its row locked;
    None when no channel."""
    if not lookup_key(code):
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {CHANNEL_FULFILMENT} FROM channels WHERE code = $1 FOR NO KEY UPDATE", code
    )
    return row


async def set_channel_fulfilment(
    conn: asyncpg.Connection,
    code: str,
    sla_hours: int,
    cutoff_time: time | None,
    auto_consolidate: bool,
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE channels SET sla_hours = $2, cutoff_time = $3, auto_consolidate = $4 "
        f"WHERE code = $1 RETURNING {CHANNEL_FULFILMENT}",
        code,
        sla_hours,
        cutoff_time,
        auto_consolidate,
    )
    assert row is not None
    return row
