"""Test support: a real PostgreSQL, a real HTTP server on a free port, a GraphQL client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn

from app.services.auth import create_api_key
from app.services.container import Services
from app.services.demo import load_reference_data
from app.settings import Settings
from app.storage.database import (
    database_name,
    start_embedded_server,
    to_asyncpg_dsn,
    with_database,
)
from app.storage.migrate import upgrade_to_head_async
from app.storage.readpool import create_read_pool
from app.web.app import create_app


class MutableClock:
    """The server's clock; tests move it to cross launch dates."""

    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def set_today(self, day: date, at: time = time(12, 0)) -> None:
        self.current = datetime.combine(day, at, tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def admin_server_url() -> tuple[str, Any]:
    """An admin URL: ``OMS_TEST_DATABASE_URL`` or an embedded server in a temporary folder."""
    external = os.environ.get("OMS_TEST_DATABASE_URL")
    if external:
        return external, None
    folder = tempfile.mkdtemp(prefix="oms-test-pg-")
    os.chmod(folder, 0o755)
    url = start_embedded_server(Path(folder))
    return url, folder


async def tune_for_tests(admin_url: str) -> None:
    """Durability off on the throw-away test cluster: the tests check logic, not fsync."""
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            await conn.execute(f"ALTER SYSTEM SET {setting}")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        # a throw-away database: no commit waits for the disk, even on a server we do not
        # tune (a second PostgreSQL the suite also runs on)
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def build_template(admin_url: str, name: str) -> str:
    url = await create_database(admin_url, name)
    await upgrade_to_head_async(url)
    settings = Settings(database_url=url)
    pool = await create_read_pool(url, 1, name="oms-test-template")
    try:
        await load_reference_data(Services(settings, read_pool=pool, write_pool=pool))
    finally:
        await pool.close()
    return url


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        assert not self.body.get("errors"), self.body.get("errors")
        return self.body["data"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])


@dataclass
class LiveServer:
    """The whole service on a real port, plus what tests need to talk to it."""

    base_url: str
    database_url: str
    clock: MutableClock
    services: Services
    ops_key: str
    client: httpx.AsyncClient
    app: Any = None
    keys: dict[str, str] = field(default_factory=dict)
    # the tests' own connections (``sql``), kept open between calls: a new connection per
    # statement cost a backend start each time (about 10 ms, thousands of times a run)
    sql_pool: asyncpg.Pool | None = None

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        anonymous: bool = False,
        operation_name: str | None = None,
    ) -> GraphQLResponse:
        headers = {}
        if not anonymous:
            headers["Authorization"] = f"Bearer {key or self.ops_key}"
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            payload["operationName"] = operation_name
        response = await self.client.post("/graphql", json=payload, headers=headers)
        return GraphQLResponse(response.status_code, response.json(), response.headers)

    async def sql(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        """One statement on a connection of the test's own (not the server's pools), in
        autocommit; a connection is reset (rolled back, locks and settings dropped) between
        calls as a closed one would be."""
        if self.sql_pool is None:
            conn = await asyncpg.connect(to_asyncpg_dsn(self.database_url))
            try:
                return list(await conn.fetch(statement, *args))
            finally:
                await conn.close()
        async with self.sql_pool.acquire() as conn:
            return list(await conn.fetch(statement, *args))

    async def key_with(self, *scopes: str) -> str:
        name = ",".join(scopes)
        if name not in self.keys:
            self.keys[name] = (await create_api_key(self.services, name, list(scopes))).key
        return self.keys[name]


@contextlib.asynccontextmanager
async def live_server(database_url: str, **settings_overrides: Any) -> AsyncIterator[LiveServer]:
    settings = Settings(
        database_url=database_url,
        log_json=True,
        access_log=False,
        **{
            "db_write_pool_size": 64,
            "pdp_cache_seconds": 0,
            # jobs run when a test asks (runScheduledJob), so dates are the test's clock
            "scheduler_seconds": 0,
            # e-mails too (the SEND_NOTIFICATIONS job); without SMTP they are .eml files here
            "mail_relay_seconds": 0,
            # the suite sends many requests from one address: limits are tested on their own
            "rate_limit_anonymous": "",
            "rate_limit_key": "",
            "mail_dir": Path(tempfile.mkdtemp(prefix="oms-test-mail-")),
            **settings_overrides,
        },
    )
    clock = MutableClock()
    app = create_app(settings, database_url, clock=clock)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    services: Services = app.state.services
    ops_key = (await create_api_key(services, "tests-ops", ["ops"])).key
    base_url = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    sql_pool = await asyncpg.create_pool(
        to_asyncpg_dsn(database_url), min_size=0, max_size=8, max_inactive_connection_lifetime=30
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        try:
            yield LiveServer(
                base_url, database_url, clock, services, ops_key, client, app, sql_pool=sql_pool
            )
        finally:
            await sql_pool.close()
            server.should_exit = True
            await task


def module_database_name(module: str) -> str:
    short = module.rsplit(".", 1)[-1][:40]
    return f"t_{short}_{os.getpid()}"


__all__ = [
    "GraphQLResponse",
    "LiveServer",
    "MutableClock",
    "admin_server_url",
    "build_template",
    "create_database",
    "database_name",
    "drop_database",
    "live_server",
    "module_database_name",
    "tune_for_tests",
]
