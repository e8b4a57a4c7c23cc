"""One event ledger: every change writes to it, and a reader following the stream in order
never skips an event of a transaction that commits after it read."""

from __future__ import annotations

import uuid

import asyncpg

from app.domain.events import Event, EventKind, Subject
from app.storage import ledger
from app.storage.database import to_asyncpg_dsn
from tests.support import LiveServer


async def _kinds_since(server: LiveServer, last_id: int) -> list[tuple[str, str, str]]:
    rows = await server.sql(
        "SELECT kind, subject, subject_id FROM events WHERE id > $1 ORDER BY id", last_id
    )
    return [(r["kind"], r["subject"], r["subject_id"]) for r in rows]


async def _last_id(server: LiveServer) -> int:
    return int((await server.sql("SELECT COALESCE(max(id), 0) AS n FROM events"))[0]["n"])


async def test_catalog_stock_supply_and_order_changes_each_write_an_event(
    server: LiveServer,
) -> None:
    start = await _last_id(server)
    created = await server.gql(
        """mutation {
          a: createProduct(input: {sku: "EL-1", name: "x", price: {amountMinor: 100, currency: EUR}})
             { userErrors { code } }
          b: adjustStock(input: {sku: "EL-1", location: "main", delta: 3, reason: RECEIPT})
             { userErrors { code } }
          c: configureBackorder(input: {sku: "EL-1", allowed: true}) { userErrors { code } }
          d: createPurchaseOrder(input: {sku: "EL-1", quantity: 5, location: "main",
             supplier: {code: "EL-SUP"}}) { supply { id } userErrors { code } }
        }"""
    )
    assert all(not created.data[k]["userErrors"] for k in "abcd")
    placed = await server.gql(
        """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
             order { id } userErrors { code } } }""",
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": "el@example.com", "name": "E"},
                "lines": [{"sku": "EL-1", "quantity": 4}],
            }
        },
    )
    order_id = placed.data["placeOrder"]["order"]["id"]
    await server.gql(
        "mutation($id: ID!) { cancelOrder(input: {id: $id}) { userErrors { code } } }",
        {"id": order_id},
    )
    kinds = [k for k, _, _ in await _kinds_since(server, start)]
    for expected in (
        "product.created",
        "stock.moved",
        "backorder.configured",
        "supply.created",
        "order.placed",
        "line.reserved",
        "line.queued",
        "line.cancelled",
        "order.cancelled",
    ):
        assert expected in kinds, (expected, kinds)
    assert kinds.index("product.created") < kinds.index("order.placed")
    assert kinds.index("order.placed") < kinds.index("order.cancelled")


async def test_a_reader_resuming_after_its_last_event_never_skips_a_later_commit(
    server: LiveServer,
) -> None:
    dsn = to_asyncpg_dsn(server.database_url)
    slow = await asyncpg.connect(dsn)
    fast = await asyncpg.connect(dsn)
    reader = await asyncpg.connect(dsn)
    try:
        start = ledger.START
        mine = ("EL-SLOW", "EL-FAST")

        def event(name: str) -> Event:
            return Event(EventKind.SKU_RELEASED, Subject.SKU, name, "test", {"sku": name})

        async with slow.transaction():
            # the slow transaction takes its transaction id (and an event id) first ...
            await ledger.append(slow, [event("EL-SLOW")])
            # ... a later one commits first
            async with fast.transaction():
                await ledger.append(fast, [event("EL-FAST")])
            seen = await ledger.read_stream(reader, start, 100)
            # nothing past the running transaction is handed out yet
            assert [r["subject_id"] for r in seen if r["subject_id"] in mine] == []
        resumed = await ledger.read_stream(reader, start, 100)
        names = [r["subject_id"] for r in resumed if r["subject_id"] in mine]
        assert names == ["EL-SLOW", "EL-FAST"]
        after = ledger.position_of(resumed[-1])
        assert await ledger.read_stream(reader, after, 100) == []
    finally:
        for conn in (slow, fast, reader):
            await conn.close()
