"""Stock never silently drops below the units ring-fenced (RESERVED) for waiting lines.

adjustStock and setStock refuse it (BELOW_RESERVED) unless the caller says what happens to the
lines that lose their units (`releaseReserved: true`): the last served give them back, keep
their place at the head of the queue and are re-promised. The invariant checker reports
RESERVED above on hand, and the database refuses to commit it.
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.storage.tables  # noqa: F401  (the tables, and the guard's DDL, on SQLModel.metadata)
from app.services.invariants import check
from app.storage.database import to_asyncpg_dsn, to_sqlalchemy_url, with_database
from app.storage.invariants import find_violations
from tests.api.placement_helpers import placed, product
from tests.support import LiveServer, create_database, drop_database

ORDER = """query($id: ID!) { order(id: $id) {
  lines { id status allocatedQuantity queuePosition promiseHistory { cause } }
  events { kind line { id } payload }
} }"""

ADJUST = """mutation($input: AdjustStockInput!) { adjustStock(input: $input) {
  product { sku } userErrors { field code message } } }"""

SET = """mutation($input: SetStockInput!) { setStock(input: $input) {
  product { sku } userErrors { field code message } } }"""


async def _ring_fenced(server: LiveServer, sku: str) -> list[str]:
    """Orders A (2), B (2), C (1) with all 5 units on hand ring-fenced, D (1) waiting behind."""
    await product(server, sku, f'configureBackorder(input: {{sku: "{sku}", allowed: true}})')
    orders = [
        (await placed(server, [{"sku": sku, "quantity": quantity}]))["id"]
        for quantity in (2, 2, 1, 1)
    ]
    await _set(server, sku, 5)
    assert [await _line(server, o) for o in orders] == [
        ("ALLOCATED", 2, None),
        ("ALLOCATED", 2, None),
        ("ALLOCATED", 1, None),
        ("WAITING", 0, 1),
    ]
    return orders


async def _set(server: LiveServer, sku: str, quantity: int, **extra: Any) -> Any:
    variables = {"sku": sku, "location": "main", "quantity": quantity, **extra}
    return (await server.gql(SET, {"input": variables})).data["setStock"]


async def _adjust(server: LiveServer, sku: str, delta: int, **extra: Any) -> Any:
    variables = {"sku": sku, "location": "main", "delta": delta, "reason": "DAMAGE", **extra}
    return (await server.gql(ADJUST, {"input": variables})).data["adjustStock"]


async def _order(server: LiveServer, order_id: str) -> Any:
    return (await server.gql(ORDER, {"id": order_id})).data["order"]


async def _line(server: LiveServer, order_id: str) -> tuple[str, int, int | None]:
    (line,) = (await _order(server, order_id))["lines"]
    return line["status"], line["allocatedQuantity"], line["queuePosition"]


async def _stock(server: LiveServer, sku: str) -> tuple[int, int]:
    """(on hand, RESERVED committed)."""
    rows = await server.sql(
        "SELECT (SELECT sum(on_hand) FROM stock_levels s WHERE s.product_id = p.id)::int AS o, "
        "ip.committed AS r FROM products p JOIN inventory_pools ip ON ip.product_id = p.id "
        "AND ip.kind = 'RESERVED' WHERE p.sku = $1",
        sku,
    )
    return rows[0]["o"], rows[0]["r"]


async def test_adjust_or_set_stock_below_the_ring_fenced_units_is_refused_and_changes_nothing(
    server: LiveServer,
) -> None:
    orders = await _ring_fenced(server, "BR-REFUSED")

    adjusted = await _adjust(server, "BR-REFUSED", -1)
    assert adjusted["product"] is None
    [error] = adjusted["userErrors"]
    assert (error["field"], error["code"]) == (["input", "delta"], "BELOW_RESERVED")
    assert "5 units" in error["message"]
    assert "releaseReserved" in error["message"]
    [error] = (await _set(server, "BR-REFUSED", 3))["userErrors"]
    assert (error["field"], error["code"]) == (["input", "quantity"], "BELOW_RESERVED")
    # saying releaseReserved: false is the same as not saying it
    [error] = (await _adjust(server, "BR-REFUSED", -2, releaseReserved=False))["userErrors"]
    assert error["code"] == "BELOW_RESERVED"

    assert await _stock(server, "BR-REFUSED") == (5, 5)
    assert [(await _line(server, o))[0] for o in orders] == [
        "ALLOCATED",
        "ALLOCATED",
        "ALLOCATED",
        "WAITING",
    ]
    # more stock, then less again down to exactly what is ring-fenced: both fine
    assert (await _adjust(server, "BR-REFUSED", 3, reason="RETURN"))["userErrors"] == []
    assert (await _line(server, orders[3]))[:2] == ("ALLOCATED", 1)
    assert (await _adjust(server, "BR-REFUSED", -2))["userErrors"] == []
    assert await _stock(server, "BR-REFUSED") == (6, 6)


async def test_releasing_reserved_units_puts_the_last_served_lines_back_at_the_head_of_the_queue(
    server: LiveServer,
) -> None:
    a, b, c, d = await _ring_fenced(server, "BR-RELEASE")
    promises = {o: len((await _order(server, o))["lines"][0]["promiseHistory"]) for o in (b, c)}

    result = await _adjust(server, "BR-RELEASE", -2, releaseReserved=True, note="dropped")
    assert result["userErrors"] == []
    assert await _stock(server, "BR-RELEASE") == (3, 3)
    # C and B gave their units back (the last served first); the 3 left go FIFO again: A keeps
    # its 2 and B, ahead of C and D as before, gets 1 back
    assert await _line(server, a) == ("ALLOCATED", 2, None)
    assert await _line(server, b) == ("WAITING", 1, 1)
    assert await _line(server, c) == ("WAITING", 0, 2)
    assert await _line(server, d) == ("WAITING", 0, 3)
    for order_id in (b, c):
        order = await _order(server, order_id)
        kinds = [e["kind"] for e in order["events"]]
        assert "LINE_UNALLOCATED" in kinds
        unallocated = next(e for e in order["events"] if e["kind"] == "LINE_UNALLOCATED")
        assert unallocated["payload"]["cause"] == "STOCK_CHANGE"
        # the customer is re-promised: one more promise, caused by the stock change
        history = order["lines"][0]["promiseHistory"]
        assert len(history) == promises[order_id] + 1
        assert history[-1]["cause"] == "STOCK_CHANGE"
    assert [v for v in await check(server.services) if v.is_error] == []


async def test_set_stock_with_release_reserved_hands_back_only_what_the_count_lost(
    server: LiveServer,
) -> None:
    a, b, c, d = await _ring_fenced(server, "BR-COUNT")
    assert (await _set(server, "BR-COUNT", 4, releaseReserved=True))["userErrors"] == []
    assert await _stock(server, "BR-COUNT") == (4, 4)
    assert [await _line(server, o) for o in (a, b, c, d)] == [
        ("ALLOCATED", 2, None),
        ("ALLOCATED", 2, None),
        ("WAITING", 0, 1),
        ("WAITING", 0, 2),
    ]
    # a count that loses nothing ring-fenced changes no line, flag or not
    assert (await _set(server, "BR-COUNT", 4, releaseReserved=True))["userErrors"] == []
    assert (await _line(server, b))[:2] == ("ALLOCATED", 2)
    assert [v for v in await check(server.services) if v.is_error] == []


async def test_the_checker_reports_reserved_units_above_the_stock_on_hand(
    server: LiveServer,
) -> None:
    await _ring_fenced(server, "BR-CHECK")
    conn = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "UPDATE stock_levels SET on_hand = 3 FROM products p "
            "WHERE p.id = product_id AND p.sku = 'BR-CHECK'"
        )
        found = await find_violations(conn)
        await tx.rollback()
    finally:
        await conn.close()
    [violation] = [v for v in found if v.check == "reserved_above_on_hand"]
    assert violation.is_error
    assert (violation.sku, violation.expected, violation.actual) == ("BR-CHECK", 3, 5)
    assert "ring-fenced" in violation.detail


async def test_the_database_refuses_to_commit_reserved_units_above_the_stock_on_hand(
    server: LiveServer,
) -> None:
    await _ring_fenced(server, "BR-GUARD")
    lower = (
        "UPDATE stock_levels SET on_hand = {n} FROM products p "
        "WHERE p.id = product_id AND p.sku = 'BR-GUARD'"
    )
    with pytest.raises(asyncpg.CheckViolationError, match="ring-fenced"):
        await server.sql(lower.format(n=4))
    ring = (
        "UPDATE inventory_pools ip SET committed = committed + 1 FROM products p "
        "WHERE p.id = ip.product_id AND p.sku = 'BR-GUARD' AND ip.kind = 'RESERVED'"
    )
    with pytest.raises(asyncpg.CheckViolationError, match="ring-fenced"):
        await server.sql(ring)
    assert await _stock(server, "BR-GUARD") == (5, 5)
    # within a transaction the two may pass each other (a dispatch, a receipt): only the
    # committed state is held to it
    conn = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    try:
        async with conn.transaction():
            await conn.execute(lower.format(n=2))
            await conn.execute(lower.format(n=5))
    finally:
        await conn.close()
    assert await _stock(server, "BR-GUARD") == (5, 5)


async def _guard_ddl(url: str) -> list[str]:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        triggers = await conn.fetch(
            "SELECT pg_get_triggerdef(oid) AS ddl FROM pg_trigger "
            "WHERE tgfoid = 'oms_check_reserved_on_hand'::regproc ORDER BY tgname"
        )
        source = await conn.fetchval(
            "SELECT prosrc FROM pg_proc WHERE proname = 'oms_check_reserved_on_hand'"
        )
    finally:
        await conn.close()
    return [r["ddl"] for r in triggers] + [" ".join(source.split())]


async def test_the_tables_build_the_same_stock_guard_as_the_migrations(
    pg_admin_url: str, template_database: str
) -> None:
    name = f"t_guard_from_tables_{os.getpid()}"
    url = await create_database(pg_admin_url, name)
    try:
        engine = create_async_engine(to_sqlalchemy_url(url))
        try:
            async with engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
        finally:
            await engine.dispose()
        built = await _guard_ddl(url)
    finally:
        await drop_database(pg_admin_url, name)
    migrated = await _guard_ddl(with_database(pg_admin_url, template_database))
    assert len(migrated) == 4
    assert built == migrated
