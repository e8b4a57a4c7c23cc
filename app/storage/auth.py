"""API keys: stored by prefix with a SHA-256 of the secret (the secret itself never)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

# A key works while it is neither revoked nor past its expiry (the database's clock decides).
LIVE = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"


async def insert_api_key(
    conn: asyncpg.Connection,
    prefix: str,
    secret_hash: str,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (prefix, secret_hash, name, scopes, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        prefix,
        secret_hash,
        name,
        list(scopes),
        expires_at,
    )


async def live_api_key(conn: asyncpg.Connection, prefix: str) -> asyncpg.Record | None:
    """The key with this prefix if it works now (``name``, ``secret_hash``, ``scopes``,
    ``expires_at``): not revoked, not expired."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT name, secret_hash, scopes, expires_at FROM api_keys WHERE prefix = $1 AND {LIVE}",
        prefix,
    )
    return row


async def list_api_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every key, oldest first: what it is, never its secret or hash."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT prefix, name, scopes, created_at, expires_at, revoked_at FROM api_keys "
        "ORDER BY created_at, prefix"
    )
    return rows


async def revoke_api_key(conn: asyncpg.Connection, prefix: str) -> asyncpg.Record | None:
    """Revoke the key (once: an earlier revocation keeps its time); its ``revoked_at`` and
    whether this call revoked it, or None when no key has this prefix."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "WITH target AS (SELECT id, revoked_at FROM api_keys WHERE prefix = $1 FOR UPDATE), "
        "changed AS (UPDATE api_keys k SET revoked_at = now() FROM target "
        "WHERE k.id = target.id AND target.revoked_at IS NULL RETURNING k.revoked_at) "
        "SELECT coalesce((SELECT revoked_at FROM changed), target.revoked_at) AS revoked_at, "
        "EXISTS (SELECT 1 FROM changed) AS revoked_now FROM target",
        prefix,
    )
    return row
