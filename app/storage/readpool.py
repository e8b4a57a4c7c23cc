"""Raw asyncpg pools: hot single-statement reads (PDP, API keys) and placement writes.

Every read here is one statement outside a transaction that changes no session state, so the
pool skips the reset query on release: one round trip per read instead of three.

Every wait on the database is bounded: connecting (``OMS_DB_CONNECT_TIMEOUT``) and taking a
connection from the pool (``OMS_DB_ACQUIRE_TIMEOUT``, which includes connecting when the pool
has to open one). Without them a request waits for asyncpg's default connect timeout (60 s)
when the database host stops answering, or for ever for a pool whose connections are all
stuck; with them it fails with ``TimeoutError``, which ``is_unavailable`` answers as the
retryable 503.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.storage.database import to_asyncpg_dsn


class ReadConnection(asyncpg.Connection):  # type: ignore[misc]
    def get_reset_query(self) -> str:
        return ""


class BoundedPool(asyncpg.Pool):  # type: ignore[misc]
    """An asyncpg pool whose ``acquire()`` gives up after ``acquire_timeout`` seconds unless
    the caller passes its own timeout."""

    acquire_timeout: float | None = None

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_read_pool(
    url: str,
    size: int,
    name: str = "preorder-oms-read",
    *,
    connect_timeout: float = 5.0,
    acquire_timeout: float | None = 10.0,
) -> asyncpg.Pool:
    # asyncpg.create_pool is ``Pool(...)`` with these defaults; built here for the subclass
    pool = BoundedPool(
        to_asyncpg_dsn(url),
        connection_class=ReadConnection,
        record_class=asyncpg.Record,
        min_size=1,
        max_size=size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        timeout=connect_timeout,
        server_settings={"application_name": name},
    )
    pool.acquire_timeout = acquire_timeout
    await pool
    return pool
