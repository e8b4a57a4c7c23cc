"""API keys: stored by prefix with a SHA-256 of the secret (the secret itself never)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


async def insert_api_key(
    conn: asyncpg.Connection, prefix: str, secret_hash: str, name: str, scopes: Sequence[str]
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (prefix, secret_hash, name, scopes) VALUES ($1, $2, $3, $4)",
        prefix,
        secret_hash,
        name,
        list(scopes),
    )


async def live_api_key(conn: asyncpg.Connection, prefix: str) -> asyncpg.Record | None:
    """The unrevoked key with this prefix (``name``, ``secret_hash``, ``scopes``)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT name, secret_hash, scopes FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
        prefix,
    )
    return row
