"""All benchmarks in one run, one table: ``make bench`` (``make bench BENCH_ARGS=--quick``).

    .venv/bin/python -m benchmarks.run [--quick] [--only placement,drop,...]

Runs each benchmark module below in turn (each starts its own embedded PostgreSQL, unless
``OMS_BENCH_ADMIN_URL`` / ``OMS_TEST_DATABASE_URL`` names a server, and the service with 1 and
with 2 uvicorn workers where that matters), prints one table of every figure beside its bare
baseline from the same run with the ratio, writes ``benchmarks/results/latest.json`` and
appends a dated row to ``benchmarks/RESULTS.md`` (machine, cores, PostgreSQL version, commit).

The protocol a benchmark module follows to be collected here (``benchmarks/harness.py``):

    def measure(quick: bool = False) -> list[benchmarks.harness.Row]

It starts what it needs, stops it before returning, raises when a correctness check fails
(e.g. not exactly 1,000 units sold in the drop), and keeps ``python -m benchmarks.<name>``
working alone. A ``Row`` is one figure (``value`` in ``unit``) beside its ``baseline`` (raw
asyncpg or bare Starlette on the same run); ``ratio`` is 1.0 at the baseline's speed whichever
way is better. A module listed in ``OPTIONAL`` that does not exist yet (or has no ``measure``)
is skipped with a note, so a benchmark being written elsewhere joins the run when it lands.

Figures from a machine shared with other jobs move by ±15-30 %; the ratios, taken against a
baseline measured minutes apart on the same machine, move much less: compare those.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from app.storage.database import to_asyncpg_dsn
from benchmarks.harness import Row, benchmark_database, machine, print_rows

BENCHMARKS = ("placement", "drop", "pdp_availability", "receipt_allocation", "fanout")
OPTIONAL = ("intake",)  # webhook intake: benchmarks/intake.py, written with the intake
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"

MD_HEADER = """# Benchmark results

One row per `make bench` (`python -m benchmarks.run`), newest last; the full table of the
latest run is `benchmarks/results/latest.json`. Ratios are ours vs the bare baseline measured
in the same run (1.00 = as fast as it). Columns: placement trusted orders/s ratio to raw
asyncpg (spread / hot SKU, 1 worker), placement open-loop p99 at 50 % of capacity (spread,
1 / 2 workers; from 2026-12-02 17:00 with the mail relay and the jobs in
`python -m app worker`, as deployed, before that inside the API), PDP trusted and ad-hoc
ratio to bare Starlette (1 worker), receipt allocation of 100k lines (x the bare window
UPDATE, seconds), fan-out p99 to 1,000 subscribers of one SKU (1 / 2 workers), the
launch-day drop (sell-out seconds, p99 confirmation, 1 worker), webhook intake.

"""
COLUMNS = (
    "date (UTC)",
    "commit",
    "machine",
    "cores",
    "PostgreSQL",
    "mode",
    "load",
    "placement ratio spread / hot",
    "open-loop p99 1w / 2w",
    "PDP trusted / ad-hoc",
    "receipt 100k",
    "fan-out p99 1w / 2w",
    "drop 5,000 for 1,000",
    "intake",
)
MD_HEADER += "| " + " | ".join(COLUMNS) + " |\n" + "| --- " * len(COLUMNS) + "|\n"


def postgres_version() -> str:
    with benchmark_database("oms_bench_version") as url:

        async def version() -> str:
            conn = await asyncpg.connect(to_asyncpg_dsn(url))
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        return asyncio.run(version())


def load(name: str) -> Callable[[bool], list[Row]] | None:
    if importlib.util.find_spec(f"benchmarks.{name}") is None:
        return None
    module = importlib.import_module(f"benchmarks.{name}")
    measure = getattr(module, "measure", None)
    return measure if callable(measure) else None


def find(rows: list[Row], benchmark: str, *words: str) -> Row | None:
    for r in rows:
        if r.benchmark == benchmark and all(w in r.scenario for w in words):
            return r
    return None


def cell(row: Row | None, what: str) -> str:
    if row is None:
        return "-"
    if what == "ratio":
        return "-" if row.ratio is None else f"{row.ratio:.2f}"
    if what == "p99":
        return "-" if row.p99_ms is None else f"{row.p99_ms:.0f} ms"
    if what == "value_s":
        return f"{row.value:.2f} s"
    return f"{row.value:.0f}"


def summary_row(rows: list[Row], info: dict[str, Any], pg: str, quick: bool) -> str:
    def pair(a: str, b: str) -> str:
        return f"{a} / {b}"

    receipt = find(rows, "receipt", "allocate")
    receipt_cell = (
        "-"
        if receipt is None or receipt.ratio is None
        else f"{1 / receipt.ratio:.1f}x ({receipt.value:.2f} s)"
    )
    drop = find(rows, "drop", "1w")
    drop_cell = "-" if drop is None else f"{drop.value:.2f} s, p99 {drop.p99_ms:.0f} ms"
    intake = [r for r in rows if r.benchmark == "intake" and r.ratio is not None]
    intake_cell = (
        "; ".join(f"{r.scenario} {cell(r, 'ratio')}" for r in intake[:2]) if intake else "-"
    )
    cells = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        f"{info['commit']}{'+' if info['dirty'] else ''}",
        f"{info['cpu']}".replace("|", "/")[:40],
        str(info["cores"]),
        pg,
        "quick" if quick else "full",
        f"{info['load_average']}",
        pair(
            cell(find(rows, "placement", "spread", "trusted", "1w", "closed"), "ratio"),
            cell(find(rows, "placement", "hot", "trusted", "1w", "closed"), "ratio"),
        ),
        pair(
            cell(find(rows, "placement", "spread", "1w", "open"), "p99"),
            cell(find(rows, "placement", "spread", "2w", "open"), "p99"),
        ),
        pair(
            cell(find(rows, "pdp", "trusted, compiled", "1w"), "ratio"),
            cell(find(rows, "pdp", "ad-hoc", "1w"), "ratio"),
        ),
        receipt_cell,
        pair(
            cell(find(rows, "fanout", "one SKU", "1w"), "p99"),
            cell(find(rows, "fanout", "one SKU", "2w"), "p99"),
        ),
        drop_cell,
        intake_cell,
    ]
    return "| " + " | ".join(cells) + " |\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument(
        "--no-record", action="store_true", help="print only: no latest.json, no RESULTS.md row"
    )
    args = parser.parse_args()
    names = [*BENCHMARKS, *OPTIONAL]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]

    info = machine()
    pg = postgres_version()
    rows: list[Row] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    for name in names:
        try:
            measure = load(name)
        except Exception as exc:  # a module that does not import (work in progress)
            notes.append(f"{name}: FAILED to import: {type(exc).__name__}: {exc}")
            print(f"== {name}: does not import: {exc}", flush=True)
            continue
        if measure is None:
            notes.append(f"{name}: skipped (benchmarks/{name}.py with measure() not there yet)")
            print(f"== {name}: skipped, no benchmarks/{name}.py with measure()", flush=True)
            continue
        print(f"== {name}{' (quick)' if args.quick else ''}", flush=True)
        started = time.perf_counter()
        try:
            found = measure(args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            notes.append(f"{name}: FAILED: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        timings[name] = time.perf_counter() - started
        rows.extend(found)
        print_rows(found)
        print(flush=True)

    print(
        f"\nAll benchmarks: {info['cpu']}, {info['cores']} cores, PostgreSQL {pg}, commit "
        f"{info['commit']}{' (dirty tree)' if info['dirty'] else ''}, "
        f"{'quick' if args.quick else 'full'} run; load average now {machine()['load_average']}"
    )
    print_rows(rows)
    for note in notes:
        print(f"note: {note}")
    if args.no_record:
        return
    RESULTS_DIR.mkdir(exist_ok=True)
    latest = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "postgresql": pg,
        "mode": "quick" if args.quick else "full",
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "rows": [r.as_dict() for r in rows],
        "notes": notes,
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    if not RESULTS_MD.exists():
        RESULTS_MD.write_text(MD_HEADER)
    with RESULTS_MD.open("a") as f:
        f.write(summary_row(rows, info, pg, args.quick))
    print(f"wrote {RESULTS_DIR / 'latest.json'} and a row in {RESULTS_MD}")


if __name__ == "__main__":
    main()
