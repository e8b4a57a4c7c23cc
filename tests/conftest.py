"""Fixtures: one PostgreSQL per session, a migrated template, a database and server per module."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.storage.database import discard_embedded_server
from tests.support import (
    LiveServer,
    admin_server_url,
    build_template,
    create_database,
    drop_database,
    live_server,
    module_database_name,
    tune_for_tests,
)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url, folder = admin_server_url()
    yield url  # type: ignore[misc]
    if folder:
        discard_embedded_server(Path(folder))


@pytest_asyncio.fixture(scope="session")
async def template_database(pg_admin_url: str) -> AsyncIterator[str]:
    if not os.environ.get("OMS_TEST_DATABASE_URL"):
        await tune_for_tests(pg_admin_url)
    name = f"oms_template_{os.getpid()}"
    await build_template(pg_admin_url, name)
    yield name
    await drop_database(pg_admin_url, name)


@pytest_asyncio.fixture(scope="module")
async def database_url(
    request: pytest.FixtureRequest, pg_admin_url: str, template_database: str
) -> AsyncIterator[str]:
    name = module_database_name(request.module.__name__)
    url = await create_database(pg_admin_url, name, template=template_database)
    yield url
    await drop_database(pg_admin_url, name)


@pytest_asyncio.fixture(scope="module")
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url) as live:
        yield live


# plain helper modules: their asserts explain a failure like a test module's (registered here,
# before any test module imports them)
pytest.register_assert_rewrite("tests.api.placement_helpers", "tests.api.queue_helpers")
