"""Inbound supply (purchase orders, production runs), suppliers and goods receipts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import asyncpg

SUPPLY_COLUMNS = """
s.id, s.kind, p.sku, s.product_id, s.location_code, s.supplier_code, sp.name AS supplier_name,
s.reference, s.quantity, s.received_quantity, s.expected_on, s.original_expected_on,
s.lead_time_days, s.units_per_day, s.run_days, s.status, s.slips, s.created_by, s.created_at,
s.updated_at, s.closed_at, sp.receipts AS supplier_receipts,
sp.on_time_receipts AS supplier_on_time_receipts
"""

SUPPLY_FROM = """
FROM supply s JOIN products p ON p.id = s.product_id
LEFT JOIN suppliers sp ON sp.code = s.supplier_code
"""


async def upsert_supplier(
    conn: asyncpg.Connection, code: str, name: str | None, lead_time_days: int | None
) -> int:
    """Create the supplier, or update the name and lead time given; returns its lead time."""
    return int(
        await conn.fetchval(
            "INSERT INTO suppliers (code, name, lead_time_days) VALUES ($1, $2, $3) "
            "ON CONFLICT (code) DO UPDATE SET "
            "name = COALESCE($4, suppliers.name), "
            "lead_time_days = COALESCE($5, suppliers.lead_time_days) "
            "RETURNING lead_time_days",
            code,
            name or code,
            lead_time_days or 0,
            name,
            lead_time_days,
        )
    )


async def insert_purchase_order(
    conn: asyncpg.Connection,
    *,
    product_id: uuid.UUID,
    location: str,
    supplier_code: str,
    reference: str,
    quantity: int,
    expected_on: date,
    lead_time_days: int,
    actor: str,
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO supply (kind, product_id, location_code, supplier_code, reference, "
            "quantity, expected_on, original_expected_on, lead_time_days, created_by) "
            "VALUES ('PURCHASE_ORDER', $1, $2, $3, $4, $5, $6, $6, $7, $8) RETURNING id",
            product_id,
            location,
            supplier_code,
            reference,
            quantity,
            expected_on,
            lead_time_days,
            actor,
        )
    )


async def insert_production_run(
    conn: asyncpg.Connection,
    *,
    product_id: uuid.UUID,
    location: str,
    reference: str,
    start_on: date,
    units_per_day: int,
    run_days: int,
    actor: str,
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO supply (kind, product_id, location_code, reference, quantity, "
            "expected_on, original_expected_on, units_per_day, run_days, created_by) "
            "VALUES ('PRODUCTION_RUN', $1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING id",
            product_id,
            location,
            reference,
            units_per_day * run_days,
            start_on,
            units_per_day,
            run_days,
            actor,
        )
    )


async def supply_record(conn: asyncpg.Connection, supply_id: int) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {SUPPLY_COLUMNS} {SUPPLY_FROM} WHERE s.id = $1", supply_id
    )
    assert row is not None
    return row


async def lock_supply(conn: asyncpg.Connection, supply_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT s.*, p.sku FROM supply s JOIN products p ON p.id = s.product_id "
        "WHERE s.id = $1 FOR UPDATE OF s",
        supply_id,
    )
    return row


async def set_expected_on(
    conn: asyncpg.Connection, supply_id: int, expected_on: date, slipped: bool
) -> None:
    await conn.execute(
        "UPDATE supply SET expected_on = $2, slips = slips + $3, updated_at = now() WHERE id = $1",
        supply_id,
        expected_on,
        1 if slipped else 0,
    )


async def cancel(conn: asyncpg.Connection, supply_id: int) -> None:
    await conn.execute(
        "UPDATE supply SET status = 'CANCELLED', closed_at = now(), updated_at = now() "
        "WHERE id = $1",
        supply_id,
    )


async def record_received(
    conn: asyncpg.Connection,
    supply_id: int,
    quantity: int,
    supplier_code: str | None,
    on_time: bool,
    received_on: date,
) -> None:
    """Units received against a supply record (closed when complete) and the supplier's
    on-time history. A purchase order received in full records ``received_on``, the day it
    came, early or late, told or not, which its supplier's lateness history
    (``app.storage.inventory.LATENESS_HISTORY_SQL``) reads; its ``expected_on`` stays the last
    announced date. A production run is measured by its start day."""
    await conn.execute(
        "UPDATE supply SET received_quantity = received_quantity + $2, "
        "status = CASE WHEN received_quantity + $2 >= quantity THEN 'RECEIVED' "
        "ELSE status END, "
        "received_on = COALESCE(received_on, CASE WHEN received_quantity + $2 >= quantity "
        "AND kind = 'PURCHASE_ORDER' THEN $3::date END), "
        "closed_at = CASE WHEN received_quantity + $2 >= quantity THEN now() END, "
        "updated_at = now() WHERE id = $1",
        supply_id,
        quantity,
        received_on,
    )
    if supplier_code is not None:
        await conn.execute(
            "UPDATE suppliers SET receipts = receipts + 1, "
            "on_time_receipts = on_time_receipts + $2 WHERE code = $1",
            supplier_code,
            1 if on_time else 0,
        )


async def insert_receipt(
    conn: asyncpg.Connection,
    *,
    product_id: uuid.UUID,
    location: str,
    supply_id: int | None,
    quantity: int,
    reference: str,
    on_time: bool | None,
    actor: str,
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO goods_receipts (product_id, location_code, supply_id, quantity, "
            "reference, on_time, actor) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            product_id,
            location,
            supply_id,
            quantity,
            reference,
            on_time,
            actor,
        )
    )


async def record_receipt_outcome(
    conn: asyncpg.Connection, receipt_id: int, allocated: int, held: int, to_stock: int
) -> None:
    await conn.execute(
        "UPDATE goods_receipts SET allocated = $2, held_for_launch = $3, to_stock = $4 "
        "WHERE id = $1",
        receipt_id,
        allocated,
        held,
        to_stock,
    )


async def receipt_allocations(conn: asyncpg.Connection, receipt_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT a.line_id, a.quantity, l.order_id, o.number, l.allocated, l.quantity "
        "AS line_quantity, l.status FROM allocations a JOIN order_lines l ON l.id = a.line_id "
        "JOIN orders o ON o.id = l.order_id WHERE a.receipt_id = $1 ORDER BY a.id",
        receipt_id,
    )
    return rows


async def receipts(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    """Goods receipts with their SKU, and what each allocated (``allocations``: JSON)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT g.id, p.sku, g.quantity, g.allocated, g.held_for_launch, g.to_stock, "
        "g.supply_id, COALESCE((SELECT json_agg(json_build_object('line_id', a.line_id, "
        "'quantity', a.quantity, 'order_id', l.order_id, 'number', o.number, "
        "'allocated', l.allocated, 'line_quantity', l.quantity, 'status', l.status) "
        "ORDER BY a.id) FROM allocations a JOIN order_lines l ON l.id = a.line_id "
        "JOIN orders o ON o.id = l.order_id WHERE a.receipt_id = g.id), '[]') AS allocations "
        "FROM goods_receipts g JOIN products p ON p.id = g.product_id "
        "WHERE g.id = ANY($1::bigint[])",
        list(ids),
    )
    return rows


async def supply_page(
    conn: asyncpg.Connection, sku: str | None, limit: int, after_id: int | None, status: str | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {SUPPLY_COLUMNS} {SUPPLY_FROM} "
        "WHERE ($1::text IS NULL OR p.sku = $1) AND ($2::bigint IS NULL OR s.id > $2) "
        "AND ($3::text IS NULL OR s.status = $3) ORDER BY s.id LIMIT $4",
        sku,
        after_id,
        status,
        limit,
    )
    return rows


async def count_supply(conn: asyncpg.Connection, sku: str | None, status: str | None) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM supply s JOIN products p ON p.id = s.product_id "
            "WHERE ($1::text IS NULL OR p.sku = $1) AND ($2::text IS NULL OR s.status = $2)",
            sku,
            status,
        )
    )


async def supply_by_id(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {SUPPLY_COLUMNS} {SUPPLY_FROM} WHERE s.id = ANY($1::bigint[])", list(ids)
    )
    return rows


async def exists_with_reference(conn: asyncpg.Connection, reference: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM supply WHERE reference = $1", reference))
