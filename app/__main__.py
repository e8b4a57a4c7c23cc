"""Command line: ``python -m app serve | migrate | demo-data | create-api-key | export-schema
| check-invariants``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from app.logging import configure_logging, get_logger, tune_gc
from app.settings import Settings

log = get_logger("app.cli")


def _prepare_database(settings: Settings, demo: bool) -> str:
    from app.storage.database import redact, resolve_database_url
    from app.storage.migrate import upgrade_to_head

    url = resolve_database_url(settings)
    log.info("database", url=redact(url), embedded=settings.database_url is None)
    upgrade_to_head(url)
    log.info("migrations_applied")
    if demo:
        from app.services.demo import load_demo_data_at

        counts = asyncio.run(load_demo_data_at(url, settings))
        log.info("demo_data_loaded", **counts)
    return url


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.web.app import create_app

    url = _prepare_database(settings, demo=args.demo_data or settings.demo_data)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    log.info("serving", url=f"http://{host}:{port}/graphql", workers=workers)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        # Frames are small JSON: compressing each costs more CPU than the bytes it saves
        # (a thousand subscribers of one SKU is a thousand frames per change).
        "ws_per_message_deflate": False,
        "ws_max_size": 1024 * 1024,
    }
    if workers > 1:
        # Worker processes build their own app from the environment; they must use the
        # database this process prepared (the embedded server keeps running in this one).
        os.environ["OMS_DATABASE_URL"] = url
        uvicorn.run("app.web.app:app_from_environment", factory=True, workers=workers, **options)
        return 0
    app = create_app(settings, url)
    tune_gc(settings.gc_threshold)
    uvicorn.run(app, **options)
    return 0


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


def cmd_create_api_key(args: argparse.Namespace, settings: Settings) -> int:
    from app.services.auth import create_api_key
    from app.services.container import Services
    from app.storage.readpool import create_read_pool

    url = _prepare_database(settings, demo=False)

    async def create() -> str:
        pool = await create_read_pool(url, 1, name="preorder-oms-cli")
        try:
            services = Services(settings, read_pool=pool, write_pool=pool)
            new = await create_api_key(services, args.name, args.scope)
        finally:
            await pool.close()
        return new.key

    try:
        key = asyncio.run(create())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(key)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, optionally load demo data, serve HTTP")
    serve.add_argument("--demo-data", action="store_true", help="load the demo data set")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="worker processes")
    serve.set_defaults(func=cmd_serve)
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
    key.set_defaults(func=cmd_create_api_key)
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
