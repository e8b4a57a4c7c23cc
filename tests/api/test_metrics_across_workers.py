"""Metrics tell the truth with several worker processes: a scrape, whichever worker answers it,
counts every placement the replica made, and placement outcomes, pool waits and the
compiled/executor path are all there."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx

from tests.process_helpers import clean_environment, served
from tests.support import LiveServer

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { number } userErrors { code } } }"""
PLACEMENTS = 24


def counter(text: str, name: str, **labels: str) -> float:
    pattern = re.compile(rf"^{name}\{{([^}}]*)\}} ([0-9.e+]+)$", re.M)
    total = 0.0
    for found in pattern.finditer(text):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
        if all(pairs.get(k) == v for k, v in labels.items()):
            total += float(found.group(2))
    return total


async def test_a_scrape_of_a_two_worker_server_counts_every_placement(
    server: LiveServer, tmp_path: Path
) -> None:
    await server.gql(
        """mutation { createProduct(input: {sku: "MW-1", name: "M",
             price: {amountMinor: 100, currency: EUR}}) { userErrors { code } }
           setStock(input: {sku: "MW-1", location: "main", quantity: 1000})
             { userErrors { code } } }"""
    )
    env = clean_environment(
        OMS_DATABASE_URL=server.database_url,
        OMS_WORKERS="2",
        OMS_DATA_DIR=str(tmp_path / "data"),
        OMS_SCHEDULER_SECONDS="0",
        OMS_MAIL_RELAY_SECONDS="0",
        OMS_RATE_LIMIT_KEY="",
        OMS_RATE_LIMIT_ANONYMOUS="",
    )
    async with served(env, tmp_path / "serve.log") as process:
        headers = {"Authorization": f"Bearer {server.ops_key}"}
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=process.base_url, headers=headers, limits=limits, timeout=30
        ) as client:

            async def place() -> None:
                body = {
                    "query": PLACE,
                    "variables": {
                        "input": {
                            "idempotencyKey": str(uuid.uuid4()),
                            "channel": "webstore",
                            "customer": {"email": "mw@example.com", "name": "M W"},
                            "lines": [{"sku": "MW-1", "quantity": 1}],
                        }
                    },
                }
                answer = (await client.post("/graphql", json=body)).json()
                assert answer["data"]["placeOrder"]["userErrors"] == [], answer

            await asyncio.gather(*(place() for _ in range(PLACEMENTS)))
            scrapes = [(await client.get("/metrics")).text for _ in range(8)]

    pids = set()
    for text in scrapes:
        assert counter(text, "oms_placements_total", outcome="placed") == PLACEMENTS
        assert counter(text, "oms_db_pool_wait_seconds_count", pool="write") >= PLACEMENTS
        assert (
            counter(text, "oms_graphql_operations_total", path="executor", type="mutation")
            == PLACEMENTS
        )
        pids.update(re.findall(r'oms_db_pool_size\{pid="(\d+)"', text))
    # the two workers answered the scrapes between them (each shows its own pools)
    assert len(pids) >= 1
