"""``python -m app worker``: the e-mail relay and the scheduled jobs in their own process, so
that the API replicas (``OMS_MAIL_RELAY_SECONDS=0 OMS_SCHEDULER_SECONDS=0``) never render or
send mail in the event loop that confirms orders.

Real processes: an API that sends nothing itself, two workers on the same database (exactly
once between them, by Message-ID), one SIGKILLed mid-send and started again (nothing
delivered twice; what may have gone out is UNCONFIRMED, never resent on its own), and a
SIGTERM that drains and exits 0."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from app.storage.database import to_asyncpg_dsn
from tests.api.mail_helpers import Sink
from tests.faults.helpers import (
    ServiceProcess,
    Storefront,
    check_invariants,
    ops_key,
    service,
    service_env,
    stock,
)
from tests.process_helpers import free_port, run_cli

pytestmark = pytest.mark.faults


def worker(env: dict[str, str], log_dir: Path, name: str) -> ServiceProcess:
    return ServiceProcess(env, log_dir, command="worker", name=name)


async def start_worker(process: ServiceProcess) -> None:
    """Started, and ready only once both loops run."""
    await process.start()
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(process.base_url + "/readyz")
    assert answer.json()["checks"]["loops"] == ["scheduler", "mail-relay"], answer.text


async def metrics(process: ServiceProcess) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(process.base_url + "/metrics")).text


async def _notifications(database_url: str, prefix: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        return await conn.fetch(
            "SELECT n.message_id, n.status, n.recipient FROM notifications n "
            "JOIN orders o ON o.id = n.order_id WHERE o.idempotency_key LIKE $1",
            prefix + "%",
        )
    finally:
        await conn.close()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _delivered_ids(sink: Sink) -> list[str]:
    with sink.lock:
        return [str(m["Message-ID"]).strip("<>") for m in sink.messages]


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, dict[str, str]]]:
    """A real SMTP server (aiosmtpd) and the settings that point the service at it."""
    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            sink,
            {
                "OMS_SMTP_HOST": "127.0.0.1",
                "OMS_SMTP_PORT": str(port),
                "OMS_SMTP_SECURITY": "none",
            },
        )
    finally:
        controller.stop()


async def test_an_api_without_loops_sends_nothing_and_two_workers_deliver_each_message_once(
    database_url: str, tmp_path: Path, smtp: tuple[Sink, dict[str, str]]
) -> None:
    sink, mail = smtp
    api_env = service_env(database_url, **mail)  # relay and scheduler off
    worker_env = api_env | {
        "OMS_MAIL_RELAY_SECONDS": "5",  # new events wake it at once (NOTIFY), not this poll
        "OMS_SCHEDULER_SECONDS": "1",
        "OMS_LOG_LEVEL": "INFO",
        "OMS_WORKER_NICE": "5",  # co-located with the API: e-mail yields the CPU to it
    }
    key = await ops_key(database_url)
    workers = [worker(worker_env, tmp_path, f"worker-{n}") for n in range(2)]
    try:
        async with service(api_env, tmp_path) as api:
            await stock(api.base_url, key, "WORKER-MUG", 100)
            store = Storefront(api.base_url, key, "WORKER-MUG")
            first = [f"worker-a-{n:02d}" for n in range(10)]
            await store.run(first, clients=4, seconds=60)

            # no relay in the API: the messages are not even derived from the events yet
            await asyncio.sleep(1.5)
            assert await _notifications(database_url, "worker-a-") == []
            assert sink.messages == []

            await asyncio.gather(*(start_worker(w) for w in workers))
            ours = os.getpriority(os.PRIO_PROCESS, 0)
            for w in workers:
                assert w.proc is not None
                assert os.getpriority(os.PRIO_PROCESS, w.proc.pid) == min(19, ours + 5)

            def all_sent(prefix: str, count: int) -> Callable[[], Awaitable[bool]]:
                async def check() -> bool:
                    rows = await _notifications(database_url, prefix)
                    return len(rows) == count and {r["status"] for r in rows} == {"SENT"}

                return check

            await _until(all_sent("worker-a-", 10), 30, "the backlog to be sent")
            # placed while the workers run: woken by the event's NOTIFY, not a poll
            started = time.monotonic()
            await store.run(["worker-b-00"], clients=1, seconds=30)
            await _until(all_sent("worker-b-", 1), 4, "a new order's confirmation")
            woken_after = time.monotonic() - started
            await asyncio.sleep(1.0)  # more rounds of both workers: nothing goes out again

            ids = _delivered_ids(sink)
            assert len(ids) == len(set(ids)) == 11, "a message was delivered twice"
            stored = [
                r["message_id"].strip("<>")
                for p in ("worker-a-", "worker-b-")
                for r in await _notifications(database_url, p)
            ]
            assert sorted(ids) == sorted(stored)
            assert woken_after < 4.0
            sent_by = [
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in (await metrics(w)).splitlines()
                    if line.startswith('oms_mail_messages_total{outcome="sent"}')
                )
                for w in workers
            ]
            assert sum(sent_by) == 11, sent_by  # the relay's counters live in the workers
            assert [w.terminate() for w in workers] == [0, 0]
            assert "worker_stopped" in workers[0].log()
        await check_invariants(database_url)
    finally:
        for w in workers:
            w.stop()


async def test_a_worker_killed_mid_send_and_started_again_never_delivers_a_message_twice(
    database_url: str, tmp_path: Path, smtp: tuple[Sink, dict[str, str]]
) -> None:
    sink, mail = smtp
    api_env = service_env(database_url, **mail)
    worker_env = api_env | {
        "OMS_MAIL_RELAY_SECONDS": "0.2",
        "OMS_SCHEDULER_SECONDS": "0.5",
        "OMS_MAIL_LEASE_SECONDS": "2",  # a claim of the killed worker is UNCONFIRMED soon
    }
    key = await ops_key(database_url)
    killed = worker(worker_env, tmp_path, "killed")
    try:
        async with service(api_env, tmp_path) as api:
            await stock(api.base_url, key, "WORKER-KILL", 200)
            store = Storefront(api.base_url, key, "WORKER-KILL")
            keys = [f"worker-k-{n:03d}" for n in range(60)]
            await store.run(keys, clients=4, seconds=60)
            await start_worker(killed)

            async def some_delivered() -> bool:
                return len(_delivered_ids(sink)) >= 5

            await _until(some_delivered, 30, "the first deliveries")
            killed.kill()  # mid-batch: claims held, maybe a message accepted but not SENT
            killed_at = len(_delivered_ids(sink))
            await start_worker(killed)

            async def settled() -> bool:
                rows = await _notifications(database_url, "worker-k-")
                return len(rows) == 60 and {r["status"] for r in rows} <= {"SENT", "UNCONFIRMED"}

            await _until(settled, 45, "every message sent or unconfirmed")
            await asyncio.sleep(1.0)
            assert killed.terminate() == 0

        rows = await _notifications(database_url, "worker-k-")
        ids = _delivered_ids(sink)
        assert len(ids) == len(set(ids)), "a message was delivered twice"
        sent = {r["message_id"].strip("<>") for r in rows if r["status"] == "SENT"}
        assert sent <= set(ids), "a message recorded as sent never arrived"
        # every message recorded SENT arrived; at most the killed batch is UNCONFIRMED
        unconfirmed = [r for r in rows if r["status"] == "UNCONFIRMED"]
        assert len(sent) + len(unconfirmed) == 60
        assert killed_at < 60
        await check_invariants(database_url)
    finally:
        killed.stop()


def test_a_worker_with_both_loops_off_refuses_to_start(tmp_path: Path) -> None:
    env = service_env(
        "postgresql://nobody@127.0.0.1:1/none",
        OMS_SCHEDULER_SECONDS="0",
        OMS_MAIL_RELAY_SECONDS="0",
        OMS_DATA_DIR=str(tmp_path),
    )
    done = run_cli(["worker"], env)
    assert done.returncode == 2
    assert "nothing to do" in done.stderr
