"""The demo data set shows every availability state on at least two products, and loads once."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from app.services.demo import load_demo_data
from tests.support import LiveServer


async def test_the_demo_data_shows_each_state_on_at_least_two_products(
    server: LiveServer,
) -> None:
    await load_demo_data(server.services)
    result = await server.gql(
        "{ products(first: 100) { edges { node { sku availability { state } } } } }",
        anonymous=True,
    )
    states = Counter(e["node"]["availability"]["state"] for e in result.data["products"]["edges"])
    for state in ("IN_STOCK", "PRE_ORDER", "BACKORDER", "SOLD_OUT"):
        assert states[state] >= 2, states
    orders = await server.gql("{ orders(first: 50) { edges { node { number lines { state } } } } }")
    line_states = {
        line["state"] for e in orders.data["orders"]["edges"] for line in e["node"]["lines"]
    }
    assert len(orders.data["orders"]["edges"]) >= 7
    assert line_states == {"READY", "PRE_ORDER", "BACKORDER"}


async def test_loading_the_demo_data_again_adds_no_rows(server: LiveServer) -> None:
    await load_demo_data(server.services)
    tables = (
        "products",
        "inventory_pools",
        "stock_levels",
        "events",
        "channels",
        "orders",
        "order_lines",
        "payment_entries",
        "supply",
        "line_promises",
    )
    before = {t: (await server.sql(f"SELECT count(*) AS n FROM {t}"))[0]["n"] for t in tables}
    counts = await load_demo_data(server.services)
    after = {t: (await server.sql(f"SELECT count(*) AS n FROM {t}"))[0]["n"] for t in tables}
    assert counts == {"products_created": 0, "orders_placed": 0, "supply_created": 0}
    assert after == before


async def test_the_demo_waiting_lines_have_dated_promises_from_demo_supply(
    server: LiveServer,
) -> None:
    await load_demo_data(server.services)
    supply = await server.gql("{ supply(first: 20) { nodes { sku kind status } } }")
    kinds = {(n["sku"], n["kind"]) for n in supply.data["supply"]["nodes"]}
    assert ("TRAIL-42", "PURCHASE_ORDER") in kinds
    assert ("NEBULA-LTD", "PRODUCTION_RUN") in kinds
    orders = await server.gql(
        "{ orders(first: 50) { nodes { lines { sku state deliveryEstimate { earliest latest }"
        " promiseHistory { cause } } } } }"
    )
    waiting = [
        line
        for order in orders.data["orders"]["nodes"]
        for line in order["lines"]
        if line["state"] != "READY"
    ]
    assert waiting
    for line in waiting:
        assert line["deliveryEstimate"]["earliest"] is not None, line
        assert [p["cause"] for p in line["promiseHistory"]][:1] == ["PLACED"], line


README = Path(__file__).resolve().parents[2] / "README.md"
STATES = (("in stock", "IN_STOCK"), ("pre-order", "PRE_ORDER"), ("backorder", "BACKORDER"))


def _readme_states() -> dict[str, str]:
    """What the README's demo paragraph says each product starts as: the SKUs before each
    parenthesis take the state its text names first."""
    paragraph = README.read_text(encoding="utf-8").split("The demo data set has", 1)[1]
    paragraph = paragraph.split("\n\n", 1)[0]
    said: dict[str, str] = {}
    for group in re.finditer(r"((?:`[A-Z0-9-]+`(?:,\s+|\s+and\s+)?)+)\s+\(([^)]*)\)", paragraph):
        label = group.group(2)
        found = [(label.find(word), state) for word, state in STATES if word in label]
        state = min(found)[1] if found else "SOLD_OUT" if "sold out" in label else label
        for sku in re.findall(r"`([A-Z0-9-]+)`", group.group(1)):
            said[sku] = state
    return said


async def test_the_readme_says_which_state_each_demo_product_starts_in(
    server: LiveServer,
) -> None:
    await load_demo_data(server.services)
    result = await server.gql(
        "{ products(first: 100) { edges { node { sku availability { state } } } } }",
        anonymous=True,
    )
    actual = {
        e["node"]["sku"]: e["node"]["availability"]["state"]
        for e in result.data["products"]["edges"]
    }
    said = _readme_states()
    assert len(said) >= 8
    assert {sku: actual.get(sku) for sku in said} == said
