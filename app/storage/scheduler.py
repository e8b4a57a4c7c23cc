"""Scheduled jobs' bookkeeping: one advisory lock per job, and the last run of each."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson


async def try_lock(conn: asyncpg.Connection, key: int) -> bool:
    """A session-level advisory lock: held until ``unlock`` or the connection closes."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def unlock(conn: asyncpg.Connection, key: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", key)


async def run_started(conn: asyncpg.Connection, job: str) -> None:
    await conn.execute(
        "INSERT INTO scheduler_runs (job, last_started_at) VALUES ($1, now()) "
        "ON CONFLICT (job) DO UPDATE SET last_started_at = now()",
        job,
    )


async def run_finished(conn: asyncpg.Connection, job: str, result: Any) -> None:
    await conn.execute(
        "UPDATE scheduler_runs SET last_finished_at = now(), runs = runs + 1, "
        "last_result = $2::jsonb WHERE job = $1",
        job,
        orjson.dumps({"result": result}).decode(),
    )
