"""SIGKILL the API (a real ``python -m app serve``, every worker) in the middle of a placement
load whose clients retry each order with its idempotency key until it is answered; start it
again on the same port. Every order acknowledged to a client exists afterwards, exactly once,
under the number the client was given; the keys cut off mid-flight are placed once by their
retry; and ``check-invariants`` finds pools equal to the sum of their lines, no reservation
without its order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.faults.helpers import (
    Storefront,
    check_invariants,
    ops_key,
    orders_by_key,
    ready_committed,
    service,
    service_env,
    stock,
)

pytestmark = pytest.mark.faults


async def test_orders_acknowledged_before_the_api_is_killed_exist_once_after_it_restarts(
    database_url: str, tmp_path: Path
) -> None:
    key = await ops_key(database_url)
    sku = "KILL-API"
    env = service_env(database_url)
    async with service(env, tmp_path) as api:
        await stock(api.base_url, key, sku, 10_000)
        store = Storefront(api.base_url, key, sku)
        keys = [f"kill-api-{n:04d}" for n in range(240)]
        load = asyncio.create_task(store.run(keys, clients=16, seconds=60))
        await store.until(60)  # well into the load
        before_kill = dict(store.acknowledged)
        api.kill()
        await asyncio.sleep(0.5)  # clients keep retrying against a closed port
        await api.start()
        await load

    assert len(before_kill) >= 60
    assert store.retries > 0  # some requests were cut off and retried
    stored = await orders_by_key(database_url, keys)
    # every key answered, each by exactly one stored order, the one its client was told
    assert {k: stored.get(k) for k in before_kill} == {k: [n] for k, n in before_kill.items()}
    assert set(store.acknowledged) == set(keys)
    assert {k: v for k, v in stored.items() if len(v) != 1} == {}
    assert {k: stored[k][0] for k in keys} == store.acknowledged
    assert await ready_committed(database_url, sku) == len(keys)
    await check_invariants(database_url)
