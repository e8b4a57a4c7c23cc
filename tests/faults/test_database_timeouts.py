"""Every wait on the database is bounded: a host that accepts connections but never answers
(a network partition, a hung server) fails the connect after ``OMS_DB_CONNECT_TIMEOUT``, and a
pool whose connections are all busy fails the checkout after ``OMS_DB_ACQUIRE_TIMEOUT``, both
as the retryable "database unavailable" (asyncpg's own default is a 60 s connect, and an
acquire that waits for ever)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from app.settings import Settings
from app.storage.database import is_unavailable
from app.storage.readpool import create_read_pool


async def test_a_database_host_that_never_answers_fails_the_connect_within_its_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepted, never answered

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError) as raised:
            await create_read_pool(
                f"postgresql://postgres@127.0.0.1:{port}/postgres", 2, connect_timeout=0.5
            )
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert time.monotonic() - started < 3
    assert is_unavailable(raised.value)


async def test_a_checkout_from_a_pool_whose_connections_are_all_busy_gives_up_in_time(
    database_url: str,
) -> None:
    pool = await create_read_pool(database_url, 1, acquire_timeout=0.3)
    try:
        async with pool.acquire():  # the only connection, held
            started = time.monotonic()
            with pytest.raises(TimeoutError) as raised:
                async with pool.acquire():
                    pass
            assert 0.25 < time.monotonic() - started < 2
        assert is_unavailable(raised.value)
        async with pool.acquire() as conn:  # released: served again
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        with contextlib.suppress(Exception):
            await pool.close()


def test_the_service_bounds_its_database_waits_by_default() -> None:
    settings = Settings()
    assert 0 < settings.db_connect_timeout <= 10
    assert 0 < settings.db_acquire_timeout <= 30
