"""The SQLModel tables and the Alembic migrations describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.storage.tables  # noqa: F401
from app.storage.database import to_sqlalchemy_url, with_database


async def test_autogenerate_finds_nothing_to_change_against_the_migrated_schema(
    pg_admin_url: str, template_database: str
) -> None:
    engine = create_async_engine(to_sqlalchemy_url(with_database(pg_admin_url, template_database)))
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "compare_server_default": False}
                )
                return list(compare_metadata(context, SQLModel.metadata))

            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], changes
