"""Apply Alembic migrations programmatically and tell whether a database is at head."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def _root() -> Path:
    """Where ``alembic.ini`` and ``migrations/`` are: the source tree this package lives in
    (a checkout, an editable install), else the working directory (the image copies them to
    its WORKDIR next to the installed package)."""
    for candidate in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (candidate / "alembic.ini").exists() and (candidate / "migrations").is_dir():
            return candidate
    raise RuntimeError("alembic.ini and migrations/ not found (run from the service's folder)")


ROOT = _root()


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_to_head(url: str) -> None:
    """Blocking; runs its own event loop, so call it from a thread when one is running."""
    command.upgrade(alembic_config(url), "head")


async def upgrade_to_head_async(url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, url)


def head_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/unused"))
    return set(script.get_heads())


async def current_revisions(conn: asyncpg.Connection) -> set[str]:
    """Revisions recorded in the database (empty when it was never migrated)."""
    if not await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
        return set()
    return {row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")}
