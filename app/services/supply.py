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
from typing import Any

import asyncpg
import orjson

from app.domain.availability import MAX_UNITS
from app.domain.dates import HORIZON_DAYS, date_problem
from app.domain.estimates import PromiseCause, available_to_promise
from app.domain.events import Event, EventKind, Subject, sku_event
from app.domain.text import clean_text, required_text
from app.services import promises
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import SupplyErrorCode as E
from app.services.results import Actor, Result, ServiceError
from app.storage import catalog as catalog_store
from app.storage import inventory as inventory_store
from app.storage import ledger
from app.storage import reference as reference_store
from app.storage import supply as store
from app.storage.allocation import lock_pools
from app.storage.inventory import SkuRecord, fetch_records
from app.storage.notify import notify_inventory_changed

MAX_RUN_DAYS = 3660
MAX_LEAD_DAYS = HORIZON_DAYS
"""A supplier's lead time: at most the planning horizon (``app.domain.dates``)."""


def _text_ok(value: str | None, required: bool = False) -> bool:
    """``clean_text`` (text that can be stored, at most ``MAX_TEXT``), and not blank when
    required."""
    return required_text(value) if required else clean_text(value)


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


async def _product(conn: asyncpg.Connection, sku: str) -> asyncpg.Record | None:
    if not clean_text(sku):  # PostgreSQL text cannot hold a NUL: no such product
        return None
    return await catalog_store.lock_product_with_preorders(conn, sku)


async def _location_known(conn: asyncpg.Connection, code: str) -> bool:
    return clean_text(code) and await reference_store.location_exists(conn, code)


def _supply_event(
    supply_id: int,
    kind: EventKind,
    actor: Actor,
    payload: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> Event:
    return Event(kind, Subject.SUPPLY, str(supply_id), actor.name, payload, before)


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
    if data.expected_on is not None and (
        problem := date_problem(data.expected_on, today, past=False, what="The expected date")
    ):
        errors.append(ServiceError(("input", "expectedOn"), E.INVALID_DATE, problem))
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        product = await _product(conn, data.sku)
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {data.sku!r}.", "input", "sku")
        if not await _location_known(conn, data.location):
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {data.location!r}.", "input", "location"
            )
        lead_days = await store.upsert_supplier(conn, data.supplier_code, data.supplier_name, lead)
        expected = data.expected_on or today + timedelta(days=lead_days)
        supply_id = await store.insert_purchase_order(
            conn,
            product_id=product["id"],
            location=data.location,
            supplier_code=data.supplier_code,
            reference=data.reference or f"PO for {data.sku}",
            quantity=data.quantity,
            expected_on=expected,
            lead_time_days=lead_days,
            actor=actor.name,
        )
        event = _supply_event(
            supply_id,
            EventKind.SUPPLY_CREATED,
            actor,
            {
                "kind": "PURCHASE_ORDER",
                "sku": data.sku,
                "quantity": data.quantity,
                "expectedOn": expected.isoformat(),
                "supplier": data.supplier_code,
            },
        )
        await ledger.append(conn, [event])
        await _repromise(conn, services, product["id"], PromiseCause.SUPPLY_ADDED, actor)
        row = await store.supply_record(conn, supply_id)
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
    if problem := date_problem(data.start_on, services.today(), past=False, what="The start date"):
        errors.append(ServiceError(("input", "startOn"), E.INVALID_DATE, problem))
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        product = await _product(conn, data.sku)
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {data.sku!r}.", "input", "sku")
        if not await _location_known(conn, data.location):
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {data.location!r}.", "input", "location"
            )
        supply_id = await store.insert_production_run(
            conn,
            product_id=product["id"],
            location=data.location,
            reference=data.reference or f"Production run for {data.sku}",
            start_on=data.start_on,
            units_per_day=data.units_per_day,
            run_days=data.run_days,
            actor=actor.name,
        )
        event = _supply_event(
            supply_id,
            EventKind.SUPPLY_CREATED,
            actor,
            {
                "kind": "PRODUCTION_RUN",
                "sku": data.sku,
                "startOn": data.start_on.isoformat(),
                "unitsPerDay": data.units_per_day,
                "runDays": data.run_days,
            },
        )
        await ledger.append(conn, [event])
        await _repromise(conn, services, product["id"], PromiseCause.SUPPLY_ADDED, actor)
        row = await store.supply_record(conn, supply_id)
        await uow.commit()
    return Result(row)


async def _repromise(
    conn: asyncpg.Connection,
    services: Services,
    product_id: uuid.UUID,
    cause: PromiseCause,
    actor: Actor,
    note: str | None = None,
) -> None:
    """Supply moved: the SKU's promises follow (under its pool locks, like every queue
    change), and caches drop the SKU so the PDP shows the new next-customer window."""
    await lock_pools(conn, [product_id])
    await promises.recompute(conn, services, [product_id], cause, actor.name, note=note)
    await notify_inventory_changed(conn, [product_id])


async def _open_supply(
    conn: asyncpg.Connection, supply_id: int, field: str
) -> tuple[asyncpg.Record | None, Result[Any] | None]:
    row = await store.lock_supply(conn, supply_id)
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
    if problem := date_problem(
        expected_on, services.today(), past=False, what="The new expected date"
    ):
        return Result.fail(E.INVALID_DATE, problem, "input", "expectedOn")
    async with services.uow() as uow:
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
        await store.set_expected_on(conn, supply_id, expected_on, slipped)
        await ledger.append(
            conn,
            [
                _supply_event(
                    supply_id,
                    EventKind.SUPPLY_ETA_CHANGED,
                    actor,
                    {"expectedOn": expected_on.isoformat(), "reason": reason},
                    {"expectedOn": before.isoformat()},
                )
            ],
        )
        cause = PromiseCause.SUPPLY_SLIPPED if slipped else PromiseCause.SUPPLY_PULLED_IN
        await _repromise(conn, services, row["product_id"], cause, actor, reason)
        result = await store.supply_record(conn, supply_id)
        await uow.commit()
    return Result(result)


async def cancel_supply(
    services: Services, actor: Actor, supply_id: int, reason: str
) -> Result[Any]:
    if not _text_ok(reason, required=True):
        return Result.fail(
            E.INVALID, "A reason is required (at most 1000 chars).", "input", "reason"
        )
    async with services.uow() as uow:
        conn = uow.conn
        row, failure = await _open_supply(conn, supply_id, "id")
        if failure is not None or row is None:
            return failure or Result.fail(E.SUPPLY_NOT_FOUND, "No supply.", "input", "id")
        await store.cancel(conn, supply_id)
        await ledger.append(
            conn,
            [
                _supply_event(
                    supply_id,
                    EventKind.SUPPLY_CANCELLED,
                    actor,
                    {"status": "CANCELLED", "reason": reason},
                    {"status": "OPEN"},
                )
            ],
        )
        await _repromise(
            conn, services, row["product_id"], PromiseCause.SUPPLY_CANCELLED, actor, reason
        )
        result = await store.supply_record(conn, supply_id)
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
    async with services.uow() as uow:
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
        on_hand = await inventory_store.add_on_hand(
            conn, product["id"], data.location, data.quantity
        )
        if on_hand > MAX_UNITS:
            return Result.fail(
                E.INVALID_QUANTITY,
                f"This would put {on_hand} units on hand at {data.location} (max {MAX_UNITS}).",
                "input",
                "quantity",
            )
        events = [
            ledger.stock_movement(
                data.sku,
                data.location,
                data.quantity,
                on_hand,
                "RECEIPT",
                f"GRN {data.reference}",
                actor.name,
            )
        ]
        on_time: bool | None = None
        if supply is not None:
            on_time = today <= supply["original_expected_on"]
            await store.record_received(
                conn, supply["id"], data.quantity, supply["supplier_code"], on_time, today
            )
            events.append(
                _supply_event(
                    supply["id"],
                    EventKind.SUPPLY_RECEIVED,
                    actor,
                    {
                        "receivedQuantity": supply["received_quantity"] + data.quantity,
                        "reference": data.reference,
                        "onTime": on_time,
                    },
                    {"receivedQuantity": supply["received_quantity"]},
                )
            )
        await ledger.append(conn, events)
        receipt_id = await store.insert_receipt(
            conn,
            product_id=product["id"],
            location=data.location,
            supply_id=data.supply_id,
            quantity=data.quantity,
            reference=data.reference,
            on_time=on_time,
            actor=actor.name,
        )
        settled = await settle(
            conn, services, [product["id"]], PromiseCause.RECEIPT, actor.name, [receipt_id]
        )
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
        await store.record_receipt_outcome(conn, receipt_id, allocated, held, to_stock)
        allocations = await store.receipt_allocations(conn, receipt_id)
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
    if not clean_text(sku):
        return []
    async with services.read() as conn:
        return list(await store.supply_page(conn, sku, limit, after_id, status))


async def count_supply(services: Services, sku: str | None, status: str | None) -> int:
    if not clean_text(sku):
        return 0
    async with services.read() as conn:
        return await store.count_supply(conn, sku, status)


async def supply_by_id(services: Services, ids: list[int]) -> dict[int, Any]:
    async with services.read() as conn:
        rows = await store.supply_by_id(conn, ids)
    return {r["id"]: r for r in rows}


async def receipts_by_id(services: Services, ids: list[int]) -> dict[int, Receipt]:
    async with services.read() as conn:
        rows = await store.receipts(conn, ids)
    found: dict[int, Receipt] = {}
    for row in rows:
        raw = row["allocations"]
        allocations = orjson.loads(raw) if isinstance(raw, str) else raw
        for a in allocations:
            a["order_id"] = uuid.UUID(a["order_id"])
        found[row["id"]] = Receipt(
            row["id"],
            row["sku"],
            row["quantity"],
            row["allocated"],
            row["held_for_launch"],
            row["to_stock"],
            row["supply_id"],
            allocations,
        )
    return found


async def supply_history(services: Services, supply_ids: list[int]) -> dict[int, list[Any]]:
    async with services.read() as conn:
        rows = await ledger.events_by_subject(conn, Subject.SUPPLY, [str(i) for i in supply_ids])
    grouped: dict[int, list[Any]] = {i: [] for i in supply_ids}
    for row in rows:
        grouped[int(row["subject_id"])].append(row)
    return grouped


@dataclass(frozen=True)
class PromiseEntry:
    on: date
    quantity: int


async def atp(services: Services, sku: str, channel: str | None) -> Result[list[PromiseEntry]]:
    """What can still be promised to new demand by when (cumulative)."""
    if not clean_text(sku):
        return Result.fail(E.NOT_FOUND, "No such product.", "sku")
    async with services.read() as conn:
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
    async with services.uow() as uow:
        conn = uow.conn
        product = await _product(conn, sku)
        if product is None:
            return Result.fail(E.NOT_FOUND, f"No product {sku!r}.", "input", "sku")
        await catalog_store.set_allocation_policy(conn, product["id"], policy)
        await ledger.append(
            conn,
            [
                sku_event(
                    EventKind.ALLOCATION_POLICY_SET,
                    product["id"],
                    sku,
                    actor.name,
                    {"allocationPolicy": policy},
                    {"allocationPolicy": product["allocation_policy"]},
                )
            ],
        )
        await _repromise(conn, services, product["id"], PromiseCause.POLICY_CHANGED, actor)
        await uow.commit()
    return Result(policy)
