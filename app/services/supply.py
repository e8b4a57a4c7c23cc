"""Inbound supply and goods receipts.

Purchase orders and production runs are the supply schedule that delivery promises are
computed from. ``receive_goods`` books a goods receipt (GRN) and, in the same transaction,
hands the units FIFO to waiting backorders and released pre-orders (ring-fenced in the
``RESERVED`` pool); only what is left re-opens as READY stock, and before a launch nothing
does (the units are held for the pre-orders). Every change of a supply record is in the audit
trail with its reason; every change that moves promises re-promises the SKU's waiting lines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import orjson

from app.domain.estimates import available_to_promise
from app.services import promises
from app.services.allocation import settle
from app.services.container import Services
from app.services.inventory import MAX_UNITS
from app.services.orders import clean_text
from app.services.results import Actor, Result, ServiceError
from app.storage.allocation import lock_pools
from app.storage.inventory import SkuRecord, fetch_records
from app.storage.notify import INVENTORY_CHANNEL

MAX_RUN_DAYS = 3660
MAX_LEAD_DAYS = 3660


class SupplyErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_LOCATION = "UNKNOWN_LOCATION"
    INVALID = "INVALID"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_DATE = "INVALID_DATE"
    SUPPLY_NOT_FOUND = "SUPPLY_NOT_FOUND"
    SUPPLY_CLOSED = "SUPPLY_CLOSED"
    SUPPLY_OTHER_SKU = "SUPPLY_OTHER_SKU"
    INVALID_POLICY = "INVALID_POLICY"


E = SupplyErrorCode


def _text_ok(value: str | None, required: bool = False) -> bool:
    """``clean_text`` (no NUL, at most ``MAX_TEXT``), and not blank when required."""
    if required and (value is None or not value.strip()):
        return False
    return clean_text(value)


@dataclass(frozen=True)
class PurchaseOrderInput:
    sku: str
    quantity: int
    location: str
    supplier_code: str
    supplier_name: str | None = None
    supplier_lead_time_days: int | None = None
    expected_on: date | None = None
    reference: str | None = None


@dataclass(frozen=True)
class ProductionRunInput:
    sku: str
    start_on: date
    units_per_day: int
    run_days: int
    location: str
    reference: str | None = None


@dataclass(frozen=True)
class ReceiptInput:
    sku: str
    quantity: int
    location: str
    reference: str
    supply_id: int | None = None


@dataclass(frozen=True)
class Receipt:
    id: int
    sku: str
    quantity: int
    allocated: int
    held_for_launch: int
    to_stock: int
    supply_id: int | None
    allocations: list[Any]


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


async def _product(conn: asyncpg.Connection, sku: str) -> asyncpg.Record | None:
    if "\x00" in sku:  # PostgreSQL text cannot hold it: no such product
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT p.id, p.sku, p.release_date, p.preorder_enabled, p.released_at, "
        "COALESCE((SELECT ip.committed FROM inventory_pools ip WHERE ip.product_id = p.id "
        "AND ip.kind = 'PRE_ORDER'), 0) AS preorder_committed "
        "FROM products p WHERE p.sku = $1 FOR NO KEY UPDATE OF p",
        sku,
    )
    return row


async def _location_known(conn: asyncpg.Connection, code: str) -> bool:
    if "\x00" in code:
        return False
    return bool(await conn.fetchval("SELECT 1 FROM locations WHERE code = $1", code))


async def _audit(
    conn: asyncpg.Connection,
    supply_id: int,
    action: str,
    actor: Actor,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_events (entity, entity_id, action, actor, before, after) "
        "VALUES ('supply', $1, $2, $3, $4::jsonb, $5::jsonb)",
        str(supply_id),
        action,
        actor.name,
        orjson.dumps(before).decode() if before is not None else None,
        orjson.dumps(after).decode() if after is not None else None,
    )


async def _fetch_supply(conn: asyncpg.Connection, supply_id: int) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {SUPPLY_COLUMNS} {SUPPLY_FROM} WHERE s.id = $1", supply_id
    )
    assert row is not None
    return row


def _too_far(value: date, today: date) -> bool:
    """Past the planning horizon (PostgreSQL would also store 9999-12-31 as 'infinity')."""
    return value > today + timedelta(days=MAX_LEAD_DAYS)


def _check_quantity(value: int, *path: str) -> ServiceError | None:
    if value < 1 or value > MAX_UNITS:
        return ServiceError(tuple(path), E.INVALID_QUANTITY, f"Must be between 1 and {MAX_UNITS}.")
    return None


async def create_purchase_order(
    services: Services, actor: Actor, data: PurchaseOrderInput
) -> Result[Any]:
    errors = [e for e in [_check_quantity(data.quantity, "input", "quantity")] if e]
    if not _text_ok(data.supplier_code, required=True) or len(data.supplier_code) > 64:
        errors.append(
            ServiceError(("input", "supplier"), E.INVALID, "A supplier code (1-64 chars).")
        )
    if not _text_ok(data.supplier_name) or not _text_ok(data.reference):
        errors.append(ServiceError(("input",), E.INVALID, "Text fields: at most 1000 chars."))
    lead = data.supplier_lead_time_days
    if lead is not None and not 0 <= lead <= MAX_LEAD_DAYS:
        errors.append(
            ServiceError(
                ("input", "supplierLeadTimeDays"),
                E.INVALID,
                f"Lead time must be 0-{MAX_LEAD_DAYS} days.",
            )
        )
    today = services.today()
    if data.expected_on is not None and data.expected_on < today:
        errors.append(
            ServiceError(("input", "expectedOn"), E.INVALID_DATE, "Expected date is in the past.")
        )
    elif data.expected_on is not None and _too_far(data.expected_on, today):
        errors.append(
            ServiceError(
                ("input", "expectedOn"),
                E.INVALID_DATE,
                f"Expected date: at most {MAX_LEAD_DAYS} days ahead.",
            )
        )
    if errors:
        return Result(errors=errors)
    async with services.raw_uow() as uow:
        conn = uow.conn
        product = await _product(conn, data.sku)
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {data.sku!r}.", "input", "sku")
        if not await _location_known(conn, data.location):
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {data.location!r}.", "input", "location"
            )
        supplier = await conn.fetchrow(
            "INSERT INTO suppliers (code, name, lead_time_days) VALUES ($1, $2, $3) "
            "ON CONFLICT (code) DO UPDATE SET "
            "name = COALESCE($4, suppliers.name), "
            "lead_time_days = COALESCE($5, suppliers.lead_time_days) "
            "RETURNING lead_time_days",
            data.supplier_code,
            data.supplier_name or data.supplier_code,
            lead or 0,
            data.supplier_name,
            lead,
        )
        expected = data.expected_on or today + timedelta(days=int(supplier["lead_time_days"]))
        supply_id = await conn.fetchval(
            "INSERT INTO supply (kind, product_id, location_code, supplier_code, reference, "
            "quantity, expected_on, original_expected_on, lead_time_days, created_by) "
            "VALUES ('PURCHASE_ORDER', $1, $2, $3, $4, $5, $6, $6, $7, $8) RETURNING id",
            product["id"],
            data.location,
            data.supplier_code,
            data.reference or f"PO for {data.sku}",
            data.quantity,
            expected,
            supplier["lead_time_days"],
            actor.name,
        )
        await _audit(
            conn,
            supply_id,
            "supply.created",
            actor,
            None,
            {
                "kind": "PURCHASE_ORDER",
                "sku": data.sku,
                "quantity": data.quantity,
                "expectedOn": expected.isoformat(),
                "supplier": data.supplier_code,
            },
        )
        await _repromise(conn, services, product["id"], "SUPPLY_ADDED", actor)
        row = await _fetch_supply(conn, supply_id)
        await uow.commit()
    return Result(row)


async def schedule_production_run(
    services: Services, actor: Actor, data: ProductionRunInput
) -> Result[Any]:
    errors = [e for e in [_check_quantity(data.units_per_day, "input", "unitsPerDay")] if e]
    if not 1 <= data.run_days <= MAX_RUN_DAYS:
        errors.append(
            ServiceError(
                ("input", "runDays"), E.INVALID_QUANTITY, f"Run length: 1-{MAX_RUN_DAYS} days."
            )
        )
    elif data.units_per_day * data.run_days > MAX_UNITS:
        errors.append(
            ServiceError(
                ("input", "unitsPerDay"), E.INVALID_QUANTITY, f"A run makes at most {MAX_UNITS}."
            )
        )
    if not _text_ok(data.reference):
        errors.append(ServiceError(("input", "reference"), E.INVALID, "At most 1000 chars."))
    if data.start_on < services.today():
        errors.append(
            ServiceError(("input", "startOn"), E.INVALID_DATE, "The start date is in the past.")
        )
    elif _too_far(data.start_on, services.today()):
        errors.append(
            ServiceError(
                ("input", "startOn"), E.INVALID_DATE, f"At most {MAX_LEAD_DAYS} days ahead."
            )
        )
    if errors:
        return Result(errors=errors)
    async with services.raw_uow() as uow:
        conn = uow.conn
        product = await _product(conn, data.sku)
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {data.sku!r}.", "input", "sku")
        if not await _location_known(conn, data.location):
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {data.location!r}.", "input", "location"
            )
        quantity = data.units_per_day * data.run_days
        supply_id = await conn.fetchval(
            "INSERT INTO supply (kind, product_id, location_code, reference, quantity, "
            "expected_on, original_expected_on, units_per_day, run_days, created_by) "
            "VALUES ('PRODUCTION_RUN', $1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING id",
            product["id"],
            data.location,
            data.reference or f"Production run for {data.sku}",
            quantity,
            data.start_on,
            data.units_per_day,
            data.run_days,
            actor.name,
        )
        await _audit(
            conn,
            supply_id,
            "supply.created",
            actor,
            None,
            {
                "kind": "PRODUCTION_RUN",
                "sku": data.sku,
                "startOn": data.start_on.isoformat(),
                "unitsPerDay": data.units_per_day,
                "runDays": data.run_days,
            },
        )
        await _repromise(conn, services, product["id"], "SUPPLY_ADDED", actor)
        row = await _fetch_supply(conn, supply_id)
        await uow.commit()
    return Result(row)


async def _repromise(
    conn: asyncpg.Connection, services: Services, product_id: uuid.UUID, cause: str, actor: Actor
) -> None:
    """Supply moved: the SKU's promises follow (under its pool locks, like every queue
    change), and caches drop the SKU so the PDP shows the new next-customer window."""
    await lock_pools(conn, [product_id])
    await promises.recompute(conn, services, [product_id], cause, actor.name)
    await conn.execute(
        "SELECT pg_notify($1, sku) FROM products WHERE id = $2", INVENTORY_CHANNEL, product_id
    )


async def _open_supply(
    conn: asyncpg.Connection, supply_id: int, field: str
) -> tuple[asyncpg.Record | None, Result[Any] | None]:
    row = await conn.fetchrow(
        "SELECT s.*, p.sku FROM supply s JOIN products p ON p.id = s.product_id "
        "WHERE s.id = $1 FOR UPDATE OF s",
        supply_id,
    )
    if row is None:
        return None, Result.fail(E.SUPPLY_NOT_FOUND, f"No supply {supply_id}.", "input", field)
    if row["status"] != "OPEN":
        return None, Result.fail(
            E.SUPPLY_CLOSED, f"Supply {supply_id} is {row['status'].lower()}.", "input", field
        )
    return row, None


async def update_supply_eta(
    services: Services, actor: Actor, supply_id: int, expected_on: date, reason: str
) -> Result[Any]:
    """A slip (later) or a pull-in (earlier), with its reason; promises follow at once."""
    if not _text_ok(reason, required=True):
        return Result.fail(
            E.INVALID, "A reason is required (at most 1000 chars).", "input", "reason"
        )
    if expected_on < services.today():
        return Result.fail(
            E.INVALID_DATE, "The new expected date is in the past.", "input", "expectedOn"
        )
    if _too_far(expected_on, services.today()):
        return Result.fail(
            E.INVALID_DATE, f"At most {MAX_LEAD_DAYS} days ahead.", "input", "expectedOn"
        )
    async with services.raw_uow() as uow:
        conn = uow.conn
        row, failure = await _open_supply(conn, supply_id, "id")
        if failure is not None or row is None:
            return failure or Result.fail(E.SUPPLY_NOT_FOUND, "No supply.", "input", "id")
        before = row["expected_on"]
        if expected_on == before:
            return Result.fail(
                E.INVALID_DATE, "That is already the expected date.", "input", "expectedOn"
            )
        slipped = expected_on > before
        await conn.execute(
            "UPDATE supply SET expected_on = $2, slips = slips + $3, updated_at = now() "
            "WHERE id = $1",
            supply_id,
            expected_on,
            1 if slipped else 0,
        )
        await _audit(
            conn,
            supply_id,
            "supply.eta_changed",
            actor,
            {"expectedOn": before.isoformat()},
            {"expectedOn": expected_on.isoformat(), "reason": reason},
        )
        cause = "SUPPLY_SLIPPED" if slipped else "SUPPLY_PULLED_IN"
        await _repromise(conn, services, row["product_id"], cause, actor)
        result = await _fetch_supply(conn, supply_id)
        await uow.commit()
    return Result(result)


async def cancel_supply(
    services: Services, actor: Actor, supply_id: int, reason: str
) -> Result[Any]:
    if not _text_ok(reason, required=True):
        return Result.fail(
            E.INVALID, "A reason is required (at most 1000 chars).", "input", "reason"
        )
    async with services.raw_uow() as uow:
        conn = uow.conn
        row, failure = await _open_supply(conn, supply_id, "id")
        if failure is not None or row is None:
            return failure or Result.fail(E.SUPPLY_NOT_FOUND, "No supply.", "input", "id")
        await conn.execute(
            "UPDATE supply SET status = 'CANCELLED', closed_at = now(), updated_at = now() "
            "WHERE id = $1",
            supply_id,
        )
        await _audit(
            conn,
            supply_id,
            "supply.cancelled",
            actor,
            {"status": "OPEN"},
            {"status": "CANCELLED", "reason": reason},
        )
        await _repromise(conn, services, row["product_id"], "SUPPLY_CANCELLED", actor)
        result = await _fetch_supply(conn, supply_id)
        await uow.commit()
    return Result(result)


async def receive_goods(services: Services, actor: Actor, data: ReceiptInput) -> Result[Receipt]:
    errors = [e for e in [_check_quantity(data.quantity, "input", "quantity")] if e]
    if not _text_ok(data.reference, required=True):
        errors.append(
            ServiceError(("input", "reference"), E.INVALID, "A reference (GRN number) is required.")
        )
    if errors:
        return Result(errors=errors)
    today = services.today()
    async with services.raw_uow() as uow:
        conn = uow.conn
        product = await _product(conn, data.sku)
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {data.sku!r}.", "input", "sku")
        if not await _location_known(conn, data.location):
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {data.location!r}.", "input", "location"
            )
        supply = None
        if data.supply_id is not None:
            supply, failure = await _open_supply(conn, data.supply_id, "supplyId")
            if failure is not None or supply is None:
                return failure or Result.fail(E.SUPPLY_NOT_FOUND, "No supply.", "input")
            if supply["product_id"] != product["id"]:
                return Result.fail(
                    E.SUPPLY_OTHER_SKU,
                    f"Supply {data.supply_id} is for {supply['sku']}, not {data.sku}.",
                    "input",
                    "supplyId",
                )
        await lock_pools(conn, [product["id"]])
        on_hand = await conn.fetchval(
            "INSERT INTO stock_levels (product_id, location_code, on_hand) VALUES ($1, $2, $3) "
            "ON CONFLICT (product_id, location_code) "
            "DO UPDATE SET on_hand = stock_levels.on_hand + EXCLUDED.on_hand RETURNING on_hand",
            product["id"],
            data.location,
            data.quantity,
        )
        if on_hand > MAX_UNITS:
            return Result.fail(
                E.INVALID_QUANTITY,
                f"This would put {on_hand} units on hand at {data.location} (max {MAX_UNITS}).",
                "input",
                "quantity",
            )
        await conn.execute(
            "INSERT INTO stock_movements (product_id, location_code, delta, on_hand_after, "
            "reason, note, actor) VALUES ($1, $2, $3, $4, 'RECEIPT', $5, $6)",
            product["id"],
            data.location,
            data.quantity,
            on_hand,
            f"GRN {data.reference}",
            actor.name,
        )
        on_time: bool | None = None
        if supply is not None:
            on_time = today <= supply["original_expected_on"]
            await conn.execute(
                "UPDATE supply SET received_quantity = received_quantity + $2, "
                "status = CASE WHEN received_quantity + $2 >= quantity THEN 'RECEIVED' "
                "ELSE status END, "
                "closed_at = CASE WHEN received_quantity + $2 >= quantity THEN now() END, "
                "updated_at = now() WHERE id = $1",
                supply["id"],
                data.quantity,
            )
            if supply["supplier_code"] is not None:
                await conn.execute(
                    "UPDATE suppliers SET receipts = receipts + 1, "
                    "on_time_receipts = on_time_receipts + $2 WHERE code = $1",
                    supply["supplier_code"],
                    1 if on_time else 0,
                )
            await _audit(
                conn,
                supply["id"],
                "supply.received",
                actor,
                {"receivedQuantity": supply["received_quantity"]},
                {
                    "receivedQuantity": supply["received_quantity"] + data.quantity,
                    "reference": data.reference,
                    "onTime": on_time,
                },
            )
        receipt_id = await conn.fetchval(
            "INSERT INTO goods_receipts (product_id, location_code, supply_id, quantity, "
            "reference, on_time, actor) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            product["id"],
            data.location,
            data.supply_id,
            data.quantity,
            data.reference,
            on_time,
            actor.name,
        )
        settled = await settle(conn, services, [product["id"]], "RECEIPT", actor.name, [receipt_id])
        allocated = min(data.quantity, settled.allocated.get(product["id"], 0))
        # As the snapshot sees it: on the launch day, until the release job has served the
        # waiting pre-orders, what they do not take is still held (not sold as READY).
        released = (product["release_date"] is None and not product["preorder_enabled"]) or (
            product["release_date"] is not None
            and product["release_date"] <= today
            and (product["released_at"] is not None or product["preorder_committed"] == 0)
        )
        held = 0 if released else data.quantity - allocated
        to_stock = data.quantity - allocated - held
        await conn.execute(
            "UPDATE goods_receipts SET allocated = $2, held_for_launch = $3, to_stock = $4 "
            "WHERE id = $1",
            receipt_id,
            allocated,
            held,
            to_stock,
        )
        allocations = await conn.fetch(
            "SELECT a.line_id, a.quantity, l.order_id, o.number, l.allocated, l.quantity "
            "AS line_quantity, l.status FROM allocations a JOIN order_lines l ON l.id = a.line_id "
            "JOIN orders o ON o.id = l.order_id WHERE a.receipt_id = $1 ORDER BY a.id",
            receipt_id,
        )
        await uow.commit()
    return Result(
        Receipt(
            receipt_id,
            data.sku,
            data.quantity,
            allocated,
            held,
            to_stock,
            data.supply_id,
            list(allocations),
        )
    )


# ---------------------------------------------------------------- reads


async def supply_page(
    services: Services, sku: str | None, limit: int, after_id: int | None, status: str | None
) -> list[Any]:
    if sku is not None and "\x00" in sku:
        return []
    async with services.read_pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {SUPPLY_COLUMNS} {SUPPLY_FROM} "
            "WHERE ($1::text IS NULL OR p.sku = $1) AND ($2::bigint IS NULL OR s.id > $2) "
            "AND ($3::text IS NULL OR s.status = $3) ORDER BY s.id LIMIT $4",
            sku,
            after_id,
            status,
            limit,
        )
    return list(rows)


async def supply_by_id(services: Services, ids: list[int]) -> dict[int, Any]:
    async with services.read_pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {SUPPLY_COLUMNS} {SUPPLY_FROM} WHERE s.id = ANY($1::bigint[])", ids
        )
    return {r["id"]: r for r in rows}


async def supply_history(services: Services, supply_ids: list[int]) -> dict[int, list[Any]]:
    async with services.read_pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT entity_id, action, actor, before, after, created_at FROM audit_events "
            "WHERE entity = 'supply' AND entity_id = ANY($1::text[]) ORDER BY id",
            [str(i) for i in supply_ids],
        )
    grouped: dict[int, list[Any]] = {i: [] for i in supply_ids}
    for row in rows:
        grouped[int(row["entity_id"])].append(row)
    return grouped


@dataclass(frozen=True)
class PromiseEntry:
    on: date
    quantity: int


async def atp(services: Services, sku: str, channel: str | None) -> Result[list[PromiseEntry]]:
    """What can still be promised to new demand by when (cumulative)."""
    if "\x00" in sku:
        return Result.fail(E.NOT_FOUND, "No such product.", "sku")
    async with services.read_pool.acquire() as conn:
        records = await fetch_records(conn, [sku])
    record = records.get(sku)
    if record is None:
        return Result.fail(E.NOT_FOUND, f"No product {sku!r}.", "sku")
    return Result(atp_for(record, services.today(), channel))


def atp_for(record: SkuRecord, today: date, channel: str | None) -> list[PromiseEntry]:
    snap = record.snapshot
    released = snap.is_released(today)
    free_now = snap.ready_for(channel) if released else 0
    cap_remaining: int | None
    if not released and snap.preorder.enabled:
        pre = snap.preorder
        cap_remaining = None if pre.cap is None else max(0, pre.cap - pre.committed)
    elif snap.backorder.allowed:
        back = snap.backorder
        cap_remaining = None if back.cap is None else max(0, back.cap - back.committed)
    else:
        cap_remaining = 0
    entries = available_to_promise(
        free_now,
        record.supply_sources(today),
        record.waiting_units,
        today,
        cap_remaining=cap_remaining,
        release_date=snap.release_date if not released else None,
    )
    return [PromiseEntry(d, q) for d, q in entries]


async def set_allocation_policy(
    services: Services, actor: Actor, sku: str, policy: str
) -> Result[str]:
    if policy not in ("FIFO", "PRIORITY_FIRST"):
        return Result.fail(E.INVALID_POLICY, "FIFO or PRIORITY_FIRST.", "input", "policy")
    if "\x00" in sku:
        return Result.fail(E.NOT_FOUND, "No such product.", "input", "sku")
    async with services.raw_uow() as uow:
        conn = uow.conn
        product = await conn.fetchrow(
            "SELECT id, allocation_policy FROM products WHERE sku = $1 FOR NO KEY UPDATE", sku
        )
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {sku!r}.", "input", "sku")
        await conn.execute(
            "UPDATE products SET allocation_policy = $2, updated_at = now() WHERE id = $1",
            product["id"],
            policy,
        )
        await conn.execute(
            "INSERT INTO audit_events (entity, entity_id, action, actor, before, after) "
            "VALUES ('product', $1, 'product.allocation_policy_set', $2, $3::jsonb, $4::jsonb)",
            sku,
            actor.name,
            orjson.dumps({"allocationPolicy": product["allocation_policy"]}).decode(),
            orjson.dumps({"allocationPolicy": policy}).decode(),
        )
        await _repromise(conn, services, product["id"], "POLICY_CHANGED", actor)
        await uow.commit()
    return Result(policy)
