"""Raw asyncpg pools: hot single-statement reads (PDP, API keys) and placement writes.

Every read here is one statement outside a transaction that changes no session state, so the
pool skips the reset query on release: one round trip per read instead of three.
"""

from __future__ import annotations

import asyncpg

from app.storage.database import to_asyncpg_dsn


class ReadConnection(asyncpg.Connection):  # type: ignore[misc]
    def get_reset_query(self) -> str:
        return ""


async def create_read_pool(url: str, size: int, name: str = "preorder-oms-read") -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        to_asyncpg_dsn(url),
        min_size=1,
        max_size=size,
        connection_class=ReadConnection,
        server_settings={"application_name": name},
    )
    assert pool is not None
    return pool
