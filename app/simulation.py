"""``python -m app simulate``: the promise-accuracy simulation on a scratch database.

Without ``--database-url`` an embedded PostgreSQL is started in a temporary folder and
deleted afterwards (never the service's own ``OMS_DATA_DIR`` cluster nor ``OMS_DATABASE_URL``:
a simulation writes a year of orders). With it, that database is dropped and created again
on the same server, so give it a name of its own. Writes the report as JSON and a PNG chart
(matplotlib, the ``sim`` extra). See ``docs/simulation.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from app.logging import get_logger
from app.settings import Settings

log = get_logger("app.simulation")

DEFAULT_OUT = Path("simulation/latest.json")
SCRATCH_DATABASE = "oms_simulation"


class _Outbox:
    """The simulation's mail transport: the relay renders, composes and hands over every
    message as it would to SMTP or the file mailer, and records it sent; the message is then
    dropped (a year of e-mails written as files to a folder deleted at the end cost a tenth of
    the run, ``docs/simulation.md``)."""

    name = "simulation"

    async def send(self, message: EmailMessage) -> None:
        return None

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[_Outbox]:
        yield self


async def simulate_at(
    url: str, settings: Settings, days: int, seed: int, small: bool
) -> dict[str, Any]:
    """Migrate the database at ``url`` (empty, or migrated with nothing but reference data),
    load the reference data and play the scenario on it."""
    from app.domain.simulation import DEFAULT_SCENARIO, SMALL_SCENARIO
    from app.services.container import Services
    from app.services.demo import load_reference_data
    from app.services.simulation import SimClock, SimulationConfig, simulate
    from app.storage.migrate import upgrade_to_head_async
    from app.storage.readpool import create_read_pool

    await upgrade_to_head_async(url)
    config = SimulationConfig(
        days=days, seed=seed, scenario=SMALL_SCENARIO if small else DEFAULT_SCENARIO
    )
    clock = SimClock(config.start)
    read_pool = await create_read_pool(url, 2, name="preorder-oms-simulation")
    write_pool = await create_read_pool(url, 3, name="preorder-oms-simulation-write")
    try:
        services = Services(
            settings, read_pool=read_pool, write_pool=write_pool, clock=clock, mailer=_Outbox()
        )
        await load_reference_data(services)

        def progress(day: int) -> None:
            if (day + 1) % 30 == 0:
                log.info("simulated", days=day + 1, of=days)

        return await simulate(services, clock, config, progress)
    finally:
        await read_pool.close()
        await write_pool.close()


def run_simulation(
    settings: Settings,
    *,
    days: int,
    seed: int,
    database_url: str | None = None,
    small: bool = False,
) -> dict[str, Any]:
    """Create the scratch database, play the scenario, return the report.

    ``database_url``: that database is dropped and created again (and kept afterwards, to be
    looked at); never the service's own ``OMS_DATABASE_URL``."""
    if database_url is not None and database_url == settings.database_url:
        raise SystemExit(
            "error: --database-url is dropped and filled with simulated orders: "
            "give a scratch database, not OMS_DATABASE_URL"
        )
    from app.storage.database import (
        discard_embedded_server,
        start_embedded_server,
        with_database,
    )
    from app.storage.simulation import create_scratch_database

    # a year of orders is thousands of e-mails: one log line each is noise here
    logging.getLogger("app.services.notifications.mailer").setLevel(logging.WARNING)
    folder: Path | None = None
    with tempfile.TemporaryDirectory(prefix="oms-sim-mail-") as mail:
        sim_settings = settings.model_copy(
            update={"mail_dir": Path(mail), "scheduler_seconds": 0.0, "mail_relay_seconds": 0.0}
        )
        try:
            if database_url is None:
                folder = Path(tempfile.mkdtemp(prefix="oms-sim-pg-"))
                admin_url = start_embedded_server(folder)
                name = SCRATCH_DATABASE
            else:
                admin_url = with_database(database_url, "postgres")
                # the path's name: a Unix-socket URL carries a folder in its query
                # (...?host=/run/postgresql), which is no database name
                name = urlsplit(database_url).path.lstrip("/") or SCRATCH_DATABASE
                if name in ("postgres", "template0", "template1"):
                    raise SystemExit(
                        f"error: --database-url names the server's {name!r} database, which "
                        "would be dropped: give a scratch database of its own"
                    )
            asyncio.run(create_scratch_database(admin_url, name))
            url = with_database(admin_url, name)
            sim_settings = sim_settings.model_copy(update={"database_url": url})
            return asyncio.run(simulate_at(url, sim_settings, days, seed, small))
        finally:
            if folder is not None:
                discard_embedded_server(folder)
                shutil.rmtree(folder, ignore_errors=True)


def write_report(report: dict[str, Any], out: Path) -> Path | None:
    """The JSON report at ``out`` and its chart next to it (same name, ``.png``; None
    without matplotlib, the ``sim`` extra, which production images leave out)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    chart = out.with_suffix(".png")
    try:
        draw_chart(report, chart)
    except ImportError:
        log.warning("no_chart", reason="matplotlib is not installed (the 'sim' extra)")
        return None
    return chart


def draw_chart(report: dict[str, Any], path: Path) -> None:
    """Three panels: days outside the first window per delivered line, the share inside it by
    SKU and by supplier against the 95 % goal, and the deviation by SKU against the 5 %
    target. matplotlib is imported here only (the ``sim`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histogram = {int(k): v for k, v in report["deviation_histogram_days"].items()}
    by_sku = report["accuracy_by_sku"]
    by_supplier = report["accuracy_by_supplier"]
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5))
    days = sorted(histogram)
    left.bar(
        days,
        [histogram[d] for d in days],
        color=["tab:green" if d == 0 else "tab:red" for d in days],
    )
    left.set_yscale("log")
    left.set_xlabel("days outside the first window (negative: early)")
    left.set_ylabel("delivered lines (log)")
    accuracy = report["accuracy"]
    left.set_title(
        f"{accuracy['inside_first_window_percent']:.1f} % inside, "
        f"deviation {accuracy['mean_deviation_percent_of_wait']:.2f} % of wait"
    )
    _bars(
        middle,
        {**by_sku, **{f"[{k}]": v for k, v in by_supplier.items()}},
        "inside_first_window_percent",
        "% inside first window",
        95.0,
    )
    _bars(right, by_sku, "mean_deviation_percent_of_wait", "deviation, % of promised wait", 5.0)
    config = report["config"]
    figure.suptitle(
        f"Promise accuracy: {config['days']} simulated days, seed {config['seed']}, "
        f"{accuracy['delivered_lines']} delivered lines"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _bars(axis: Any, groups: dict[str, Any], key: str, label: str, line: float) -> None:
    names = list(groups)
    axis.barh(names, [groups[n][key] for n in names], color="tab:blue")
    axis.axvline(line, color="tab:red", linestyle="--")
    axis.set_xlabel(label)
    axis.invert_yaxis()


def summary(report: dict[str, Any]) -> list[str]:
    """The headline figures, one a line, for the terminal."""
    a, d, f = report["accuracy"], report["delays"], report["fairness"]
    return [
        f"delivered lines: {a['delivered_lines']}",
        f"inside first window: {a['inside_first_window_percent']} % (goal 95 %)",
        f"mean deviation: {a['mean_deviation_percent_of_wait']} % of the promised wait "
        "(target < 5 %)",
        f"window width: mean {a['mean_window_width_days']} days, "
        f"p90 {a['p90_window_width_days']} days",
        f"delays: {d['delays']}, told: {d['delays_told']}, slips announced: "
        f"{d['slips_announced']}, every slip told: {d['every_slip_told']}",
        f"late deliveries never warned: {d['late_deliveries_never_warned']}",
        f"queue fairness holds: {f['holds']} ({f['queue_events_checked']} events)",
        f"invariant errors: {report['invariant_errors']}",
        f"runtime: {report['runtime_seconds']} s",
    ]
