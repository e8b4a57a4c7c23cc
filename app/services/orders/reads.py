"""Reading orders: by id, number or line, lists for the ops views, and the DataLoader batches
of their lines, payments, events and promises. Who may read what is ``policy``'s rule."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from app.domain.dates import timestamp_problem
from app.domain.estimates import Accuracy, promise_accuracy
from app.domain.lines import LineStatus
from app.domain.payments import PaymentTotals, amount_due, totals
from app.domain.text import lookup_key
from app.services.container import Services
from app.services.error_codes import OrderErrorCode as E
from app.services.results import ServiceError
from app.storage import ledger
from app.storage import orders as store
from app.storage import payments as payment_store
from app.storage import promises as promise_store
from app.storage.orders import OrderFilter

__all__ = [
    "OrderFilter",
    "accuracy",
    "count_orders",
    "filter_errors",
    "line_payment_totals",
    "list_orders",
    "load_events",
    "load_events_by_id",
    "load_lines",
    "load_order_ids_of_lines",
    "load_orders",
    "load_payments",
    "load_promises",
    "order_id_by_number",
    "order_id_of_line",
    "order_payment_totals",
    "token_hash",
    "token_matches",
]

MAX_ORDER_NUMBER = 64


def token_hash(token: str) -> str:
    """How an order token is stored (the token itself is shown once, at placement)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(order: Any, token: str | None) -> bool:
    """Whether ``token`` is the order's."""
    if not token:
        return False
    return secrets.compare_digest(order["token_hash"], token_hash(token))


async def load_orders(services: Services, ids: list[Any]) -> dict[Any, Any]:
    async with services.read() as conn:
        rows = await store.orders_by_id(conn, ids)
    return {row["id"]: row for row in rows}


async def order_id_by_number(services: Services, number: str) -> uuid.UUID | None:
    if not lookup_key(number, MAX_ORDER_NUMBER):
        return None
    async with services.read() as conn:
        return await store.order_id_by_number(conn, number)


async def order_id_of_line(services: Services, line_id: int) -> uuid.UUID | None:
    async with services.read() as conn:
        return await store.order_id_of_line(conn, line_id)


async def _grouped(
    services: Services,
    fetch: Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[list[Any]]],
    keys: list[Any],
    key: str = "order_id",
) -> dict[Any, list[Any]]:
    async with services.read() as conn:
        rows = await fetch(conn, keys)
    grouped: dict[Any, list[Any]] = {k: [] for k in keys}
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


async def load_order_ids_of_lines(services: Services, line_ids: list[int]) -> dict[int, Any]:
    async with services.read() as conn:
        rows = await store.order_ids_of_lines(conn, line_ids)
    return {r["id"]: r["order_id"] for r in rows}


async def load_events_by_id(services: Services, ids: list[int]) -> dict[int, Any]:
    async with services.read() as conn:
        rows = await ledger.events_by_id(conn, ids)
    return {r["id"]: r for r in rows}


async def count_orders(services: Services, flt: OrderFilter, channel_only: str | None) -> int:
    if not _can_match(flt):
        return 0
    async with services.read() as conn:
        return await store.count_orders(conn, flt, channel_only)


async def load_lines(services: Services, order_ids: list[Any]) -> dict[Any, list[Any]]:
    return await _grouped(services, store.lines_by_order, order_ids)


async def load_payments(services: Services, order_ids: list[Any]) -> dict[Any, list[Any]]:
    return await _grouped(services, payment_store.payments_by_order, order_ids)


async def load_events(services: Services, order_ids: list[Any]) -> dict[Any, list[Any]]:
    return await _grouped(services, ledger.events_by_order, order_ids)


async def load_promises(services: Services, line_ids: list[int]) -> dict[int, list[Any]]:
    return await _grouped(services, promise_store.promises_by_line, line_ids, key="line_id")


def filter_errors(services: Services, flt: OrderFilter) -> list[ServiceError]:
    """A list filter's bad dates (outside the horizon, ``app.domain.dates``), as errors on
    the ``filter`` argument's fields."""
    today = services.today()
    errors = []
    for name, value in (("placedFrom", flt.placed_from), ("placedTo", flt.placed_to)):
        if value is not None and (problem := timestamp_problem(value, today, what=name)):
            errors.append(ServiceError(("filter", name), E.INVALID_DATE, problem))
    return errors


def _can_match(flt: OrderFilter) -> bool:
    """Text that cannot be stored matches no order: the answer is an empty list."""
    return all(v is None or lookup_key(v) for v in (flt.tag, flt.channel, flt.sku))


async def list_orders(
    services: Services,
    flt: OrderFilter,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    channel_only: str | None,
) -> list[Any]:
    """Orders newest first (keyset on placed_at, id); ``channel_only`` limits a channel key."""
    if not _can_match(flt):
        return []
    async with services.read() as conn:
        return await store.list_orders(conn, flt, limit, after, channel_only)


async def accuracy(services: Services, sku: str | None) -> Accuracy:
    """Promise accuracy of delivered lines against their FIRST promise."""
    if sku is not None and not lookup_key(sku):
        return promise_accuracy([])  # no line has a SKU that cannot be stored
    async with services.read() as conn:
        rows = await promise_store.delivered_against_first_promise(
            conn, sku, services.settings.store_timezone
        )
    return promise_accuracy(rows)


def _line_due(line: Any, payments: list[Any]) -> int:
    mine = [payment_store.ledger_entry(p) for p in payments if p["line_id"] == line["id"]]
    return amount_due(
        int(line["quantity"]) * int(line["unit_price_minor"]),
        mine,
        cancelled=line["status"] == LineStatus.CANCELLED,
    )


def line_payment_totals(line: Any, payments: list[Any]) -> PaymentTotals:
    """A line's captured, authorized, refunded, voided and still due, from its order's
    payment entries (the domain's rules)."""
    mine = [p for p in payments if p["line_id"] == line["id"]]
    return totals((payment_store.ledger_entry(p) for p in mine), _line_due(line, payments))


def order_payment_totals(lines: list[Any], payments: list[Any]) -> PaymentTotals:
    due = sum(_line_due(line, payments) for line in lines)
    return totals((payment_store.ledger_entry(p) for p in payments), due)
