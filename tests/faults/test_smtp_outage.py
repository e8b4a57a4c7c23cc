"""The SMTP server is down (nothing listens on its port) while customers place orders, for
long enough that every message fails a few times, then comes back: the service's own relay
(a real ``python -m app serve``, not a job a test triggers) delivers every notification exactly
once, by its Message-ID, and no later round sends any of them again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from app.storage.database import to_asyncpg_dsn
from tests.api.mail_helpers import Sink
from tests.faults.helpers import Storefront, check_invariants, ops_key, service, service_env, stock
from tests.process_helpers import free_port

pytestmark = pytest.mark.faults

ORDERS = 12


async def _notifications(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        return await conn.fetch(
            "SELECT n.message_id, n.status, n.attempts, n.recipient FROM notifications n "
            "JOIN orders o ON o.id = n.order_id WHERE o.idempotency_key LIKE 'smtp-down-%'"
        )
    finally:
        await conn.close()


async def _until(check: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_mail_held_back_by_an_smtp_outage_is_delivered_exactly_once_when_it_returns(
    database_url: str, tmp_path: Path
) -> None:
    smtp_port = free_port()  # nothing listens here yet: the SMTP server is down
    env = service_env(
        database_url,
        OMS_SMTP_HOST="127.0.0.1",
        OMS_SMTP_PORT=str(smtp_port),
        OMS_SMTP_SECURITY="none",
        OMS_SMTP_TIMEOUT_SECONDS="2",
        OMS_MAIL_RELAY_SECONDS="0.2",
        OMS_MAIL_RETRY_BASE_SECONDS="0.2",
        OMS_MAIL_RETRY_MAX_SECONDS="0.5",
        OMS_MAIL_MAX_ATTEMPTS="50",
    )
    key = await ops_key(database_url)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    async with service(env, tmp_path) as api:
        await stock(api.base_url, key, "SMTP-DOWN", 100)
        store = Storefront(api.base_url, key, "SMTP-DOWN")
        keys = [f"smtp-down-{n:03d}" for n in range(ORDERS)]
        await store.run(keys, clients=4, seconds=60)

        async def all_failed_twice() -> bool:
            rows = await _notifications(database_url)
            return len(rows) >= ORDERS and all(r["attempts"] >= 2 for r in rows)

        await _until(all_failed_twice, 30, "every message to fail twice")
        assert sink.messages == []
        assert {r["status"] for r in await _notifications(database_url)} == {"PENDING"}

        controller.start()  # the SMTP server is back
        try:

            async def all_sent() -> bool:
                return {r["status"] for r in await _notifications(database_url)} == {"SENT"}

            await _until(all_sent, 30, "every message to be sent")
            await asyncio.sleep(2.0)  # several more relay rounds: nothing goes out again
        finally:
            controller.stop()

    rows = await _notifications(database_url)
    sent_ids = [str(m["Message-ID"]).strip("<>") for m in sink.messages]
    stored_ids = [r["message_id"].strip("<>") for r in rows]
    assert len(sent_ids) == len(set(sent_ids)), "a message was delivered twice"
    assert sorted(sent_ids) == sorted(stored_ids)
    # each customer got their order's message, once
    recipients = sorted(r["recipient"] for r in rows)
    assert recipients == sorted(f"{k}@faults.example" for k in keys)
    await check_invariants(database_url)
