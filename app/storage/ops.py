"""The ops dashboard's read models: KPIs in a few set-based statements, the daily demand per SKU
and the cached demand forecasts (``demand_forecasts``, written by the FORECAST_DEMAND job)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

SALES_SQL = """
SELECT coalesce(sum(l.quantity), 0)::bigint AS units,
       coalesce(sum(l.quantity) FILTER (WHERE l.state = 'PRE_ORDER'), 0)::bigint AS preorder_units,
       count(DISTINCT o.id)::bigint AS orders
  FROM orders o JOIN order_lines l ON l.order_id = o.id
 WHERE o.placed_at >= $1 AND o.placed_at <= $2 AND l.status <> 'CANCELLED'
"""

# confirmed_at (the database clock when the order row was written) minus placed_at (the
# service clock when placement began): stored with every order, so the percentiles cover
# every replica. Negative differences (clock skew between hosts) count as 0.
LATENCY_SQL = """
SELECT count(*)::bigint AS orders,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY s) AS p99
  FROM (SELECT greatest(extract(epoch FROM o.confirmed_at - o.placed_at), 0)::float8 AS s
          FROM orders o
         WHERE o.placed_at >= $1 AND o.placed_at <= $2 AND o.confirmed_at IS NOT NULL) t
"""

# Open shipments past their dispatch deadline, and those dispatched after it in the window.
SLA_SQL = """
SELECT count(*) FILTER (WHERE s.status NOT IN ('DISPATCHED', 'DELIVERED', 'CANCELLED')
                          AND s.dispatch_deadline < $2)::bigint AS open_breached,
       count(*) FILTER (WHERE s.dispatched_at IS NOT NULL
                          AND s.dispatched_at > s.dispatch_deadline
                          AND s.dispatched_at >= $1 AND s.dispatched_at < $2)::bigint
           AS dispatched_late
  FROM shipments s
 WHERE s.status NOT IN ('DISPATCHED', 'DELIVERED', 'CANCELLED')
    OR (s.dispatched_at >= $1 AND s.dispatched_at < $2)
"""

# Sell-through of every capped pre-order: units committed against the cap.
SELL_THROUGH_SQL = """
SELECT p.sku, ip.capacity AS cap, ip.committed
  FROM inventory_pools ip JOIN products p ON p.id = ip.product_id
 WHERE ip.kind = 'PRE_ORDER' AND ip.channel_code IS NULL AND ip.capacity IS NOT NULL
 ORDER BY p.sku
"""


async def sales_mix(conn: asyncpg.Connection, since: datetime, until: datetime) -> asyncpg.Record:
    row = await conn.fetchrow(SALES_SQL, since, until)
    assert row is not None
    return row


async def confirmation_latency(
    conn: asyncpg.Connection, since: datetime, until: datetime
) -> asyncpg.Record:
    row = await conn.fetchrow(LATENCY_SQL, since, until)
    assert row is not None
    return row


async def sla_breaches(
    conn: asyncpg.Connection, since: datetime, until: datetime
) -> asyncpg.Record:
    row = await conn.fetchrow(SLA_SQL, since, until)
    assert row is not None
    return row


async def sell_through(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELL_THROUGH_SQL))


# Every product with demand in the window or something to compare a forecast with (a cap,
# open supply, waiting lines): its units ordered per day and state (store time zone), its
# cap, open supply and waiting units. One statement for all SKUs.
DEMAND_SQL = """
WITH days AS (
    SELECT d::date AS day FROM generate_series($1::date, $2::date, interval '1 day') d
), daily AS (
    SELECT l.product_id, (o.placed_at AT TIME ZONE $3)::date AS day,
           sum(l.quantity) FILTER (WHERE l.state = 'READY')::int AS ready,
           sum(l.quantity) FILTER (WHERE l.state = 'PRE_ORDER')::int AS pre_order,
           sum(l.quantity) FILTER (WHERE l.state = 'BACKORDER')::int AS backorder
      FROM order_lines l JOIN orders o ON o.id = l.order_id
     WHERE o.placed_at >= ($1::date::timestamp AT TIME ZONE $3)
       AND o.placed_at < (($2::date + 1)::timestamp AT TIME ZONE $3)
     GROUP BY 1, 2
), caps AS (
    SELECT product_id, capacity AS cap, greatest(capacity - committed, 0) AS cap_remaining
      FROM inventory_pools
     WHERE kind = 'PRE_ORDER' AND channel_code IS NULL AND capacity IS NOT NULL
), open_supply AS (
    SELECT product_id, sum(quantity - received_quantity)::int AS units
      FROM supply WHERE status = 'OPEN' GROUP BY product_id
), waiting AS (
    SELECT product_id, sum(quantity - allocated)::int AS units
      FROM order_lines WHERE status = 'WAITING' GROUP BY product_id
)
SELECT p.id AS product_id, p.sku,
       (p.preorder_enabled AND p.released_at IS NULL) OR p.backorder_allowed AS sells_ahead,
       c.cap, c.cap_remaining,
       coalesce(s.units, 0) AS open_supply,
       coalesce(w.units, 0) AS waiting_units,
       coalesce(
           (SELECT jsonb_agg(jsonb_build_array(dd.day, coalesce(x.ready, 0),
                                               coalesce(x.pre_order, 0),
                                               coalesce(x.backorder, 0)) ORDER BY dd.day)
              FROM days dd LEFT JOIN daily x ON x.product_id = p.id AND x.day = dd.day),
           '[]'::jsonb) AS daily
  FROM products p
  LEFT JOIN caps c ON c.product_id = p.id
  LEFT JOIN open_supply s ON s.product_id = p.id
  LEFT JOIN waiting w ON w.product_id = p.id
 WHERE EXISTS (SELECT 1 FROM daily x WHERE x.product_id = p.id)
    OR c.cap IS NOT NULL OR s.units IS NOT NULL OR w.units IS NOT NULL
 ORDER BY p.sku
"""


async def daily_demand(
    conn: asyncpg.Connection, first_day: date, last_day: date, timezone: str
) -> list[dict[str, Any]]:
    """Per SKU: ``daily`` as ``[day, ready, pre_order, backorder]`` rows from ``first_day``
    to ``last_day`` (every day, zeros included), and what a forecast is compared with."""
    rows = await conn.fetch(DEMAND_SQL, first_day, last_day, timezone)
    return [{**dict(r), "daily": orjson.loads(r["daily"])} for r in rows]


UPSERT_FORECAST_SQL = """
INSERT INTO demand_forecasts (product_id, sku, computed_at, method, history_days, horizon_days,
                              history, forecast, forecast_units, waiting_units, cap,
                              cap_remaining, open_supply, flag)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::int[],
                     $6::int[], $7::jsonb[], $8::jsonb[], $9::int[], $10::int[], $11::int[],
                     $12::int[], $13::int[], $14::text[])
ON CONFLICT (product_id) DO UPDATE SET
    sku = EXCLUDED.sku, computed_at = EXCLUDED.computed_at, method = EXCLUDED.method,
    history_days = EXCLUDED.history_days, horizon_days = EXCLUDED.horizon_days,
    history = EXCLUDED.history, forecast = EXCLUDED.forecast,
    forecast_units = EXCLUDED.forecast_units, waiting_units = EXCLUDED.waiting_units,
    cap = EXCLUDED.cap, cap_remaining = EXCLUDED.cap_remaining,
    open_supply = EXCLUDED.open_supply, flag = EXCLUDED.flag
"""


async def replace_forecasts(
    conn: asyncpg.Connection, computed_at: datetime, rows: list[dict[str, Any]]
) -> None:
    """Write this run's forecasts (one statement) and drop those of SKUs it no longer has."""
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "product_id",
            "sku",
            "computed_at",
            "method",
            "history_days",
            "horizon_days",
            "history",
            "forecast",
            "forecast_units",
            "waiting_units",
            "cap",
            "cap_remaining",
            "open_supply",
            "flag",
        )
    }
    for row in rows:
        for name, values in columns.items():
            value = computed_at if name == "computed_at" else row[name]
            if name in ("history", "forecast"):
                value = orjson.dumps(value).decode()
            values.append(value)
    if rows:
        await conn.execute(UPSERT_FORECAST_SQL, *columns.values())
    ids: list[uuid.UUID] = columns["product_id"]
    await conn.execute("DELETE FROM demand_forecasts WHERE NOT (product_id = ANY($1::uuid[]))", ids)


async def list_forecasts(
    conn: asyncpg.Connection, sku: str | None, flagged_only: bool
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM demand_forecasts "
        "WHERE ($1::text IS NULL OR sku = $1) AND (NOT $2 OR flag IS NOT NULL) "
        "ORDER BY flag IS NULL, sku",
        sku,
        flagged_only,
    )
    return [
        {
            **dict(r),
            "history": orjson.loads(r["history"]),
            "forecast": orjson.loads(r["forecast"]),
        }
        for r in rows
    ]


async def last_forecast_at(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval("SELECT max(computed_at) FROM demand_forecasts")
    return value
