"""What cannot run on this 2-core box, by simulation: a discrete-event model (SimPy) of order
placement built from the costs measured here, checked against this box first.

    .venv/bin/python -m benchmarks.scale_model [--seed 1] [--quick]

One placement, as measured (``docs/performance.md``, ``docs/scaling.md``), is:

1. service CPU ``APP_MS`` on one of the API's cores (a uvicorn process is one core);
2. PostgreSQL CPU ``DB_MS - ROW_MS`` on one of the database's cores (statements before the
   reservation: key, customer, order, lines, events);
3. the reservation: the pool row's lock is held while the conditional UPDATE and the COMMIT
   run, ``ROW_MS`` of database CPU (1 / 1,760 s: raw asyncpg's rate on one row here).

Arrivals are Poisson (open loop); service times are exponential around the measured means (a
conservative choice: real ones vary less, so real tails are shorter). Network time, connection
pools and the load generator are left out, except that on this box the load generator's
``CLIENT_MS`` shares the cores. A sold-out pool refuses without taking the row (placement
reads the snapshot first).

Three questions:

- **calibration**: this box (2 cores shared by the service, PostgreSQL and the load
  generator). The model's capacity and its p99 at half of it, beside what was measured.
- **100x**: 20,000 orders/s spread over many SKUs on N API cores and a PostgreSQL primary of
  M cores: where p99 stays under 100 ms, and where the primary saturates.
- **drop**: a launch-day drop on a big machine, one pool row against striped sub-counters
  (the cap stays exact: each stripe holds its share and an order tries the others before it
  is refused): time to sell out and p99.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import simpy

APP_MS = 1.5  # service CPU per order, trusted placeOrder (benchmarks/placement.py, quiet box)
DB_MS = 2.5  # PostgreSQL CPU per order
ROW_MS = 1000 / 1760  # the pool row held per reservation (raw asyncpg, one row, this box)
CLIENT_MS = 0.3  # the load generator's CPU per order on this box (HTTP client, parsing)
MEASURED = {  # this box, quiet, 1 worker (docs/performance.md, benchmarks/RESULTS.md)
    "capacity": "~400 orders/s closed loop",
    "p99_half": "21 ms spread, 40 ms hot SKU (open loop, relay and jobs off the API)",
}


@dataclass
class Machine:
    """Where the CPU is: ``shared`` cores for everything (this box), or separate API and
    database cores (a deployment)."""

    app_cores: int
    db_cores: int
    shared: bool = False
    client_ms: float = 0.0


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, accepted orders
    refused: int = 0
    accepted: int = 0
    last_accept: float = 0.0
    offered: int = 0
    horizon: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def throughput(self) -> float:
        return self.accepted / self.horizon if self.horizon else 0.0


class Model:
    def __init__(self, machine: Machine, stripes: list[int] | None, seed: int) -> None:
        self.env = simpy.Environment()
        self.rng = random.Random(seed)
        if machine.shared:
            cores = simpy.Resource(self.env, machine.app_cores)
            self.app = self.db = cores
        else:
            self.app = simpy.Resource(self.env, machine.app_cores)
            self.db = simpy.Resource(self.env, machine.db_cores)
        self.client_ms = machine.client_ms
        # None: every order for a different row (spread); else the units left per stripe
        self.left = stripes
        self.rows = [simpy.Resource(self.env, 1) for _ in stripes or []]
        self.out = Outcome()

    def cpu(self, pool: simpy.Resource, mean_ms: float) -> Generator[Any, Any, None]:
        with pool.request() as turn:
            yield turn
            yield self.env.timeout(self.rng.expovariate(1000 / mean_ms))

    def order(self) -> Generator[Any, Any, None]:
        start = self.env.now
        if self.client_ms:
            yield from self.cpu(self.app, self.client_ms)
        yield from self.cpu(self.app, APP_MS)
        yield from self.cpu(self.db, DB_MS - ROW_MS)
        if self.left is None:  # spread: the row is nobody else's
            yield from self.cpu(self.db, ROW_MS)
            self.accept(start)
            return
        first = self.rng.randrange(len(self.left))
        for i in range(len(self.left)):
            stripe = (first + i) % len(self.left)
            if self.left[stripe] <= 0:
                continue  # sold out there: the snapshot says so, no lock taken
            with self.rows[stripe].request() as lock:
                yield lock
                yield from self.cpu(self.db, ROW_MS)
                if self.left[stripe] > 0:  # the conditional UPDATE
                    self.left[stripe] -= 1
                    self.accept(start)
                    return
        self.out.refused += 1

    def accept(self, start: float) -> None:
        self.out.accepted += 1
        self.out.latencies.append(self.env.now - start)
        self.out.last_accept = self.env.now

    def arrivals(self, rate: float, count: int) -> Generator[Any, Any, None]:
        for _ in range(count):
            self.out.offered += 1
            self.env.process(self.order())
            yield self.env.timeout(self.rng.expovariate(rate))

    def run(self, rate: float, seconds: float) -> Outcome:
        count = int(rate * seconds)
        self.env.process(self.arrivals(rate, count))
        self.env.run()
        self.out.horizon = seconds
        return self.out


def capacity(machine: Machine, seed: int, seconds: float) -> float:
    """Orders/s the machine completes when offered far more than it can do."""
    offered = 2 * machine.app_cores * 1000 / (APP_MS + DB_MS + machine.client_ms)
    model = Model(machine, None, seed)
    out = model.run(offered, seconds)
    return out.accepted / model.env.now


@dataclass
class Line:
    question: str
    setup: str
    result: str


def calibration(seed: int, seconds: float) -> Iterator[Line]:
    box = Machine(app_cores=2, db_cores=2, shared=True, client_ms=CLIENT_MS)
    cap = capacity(box, seed, seconds)
    yield Line(
        "calibration",
        "this box: 2 cores shared by API, PostgreSQL, load generator",
        f"capacity {cap:.0f} orders/s (measured {MEASURED['capacity']})",
    )
    half = Model(box, None, seed).run(cap / 2, seconds * 4)
    yield Line(
        "calibration",
        f"open loop at 50 % of capacity ({cap / 2:.0f}/s)",
        f"p50 {half.percentile(50) * 1000:.1f} ms, p99 {half.percentile(99) * 1000:.1f} ms "
        f"(measured: {MEASURED['p99_half']})",
    )


def hundredfold(seed: int, seconds: float) -> Iterator[Line]:
    rate = 20_000.0
    for app, db in ((52, 64), (52, 56), (52, 48), (40, 64)):
        out = Model(Machine(app_cores=app, db_cores=db), None, seed).run(rate, seconds)
        busy_app = rate * APP_MS / 1000 / app
        busy_db = rate * DB_MS / 1000 / db
        stable = busy_app < 1 and busy_db < 1
        result = (
            f"p50 {out.percentile(50) * 1000:.1f} ms, p99 {out.percentile(99) * 1000:.1f} ms"
            if stable
            else f"saturated: queue grows without bound (p99 {out.percentile(99):.1f} s after "
            f"{seconds:.0f} s)"
        )
        yield Line(
            "100x spread",
            f"20,000/s on {app} API cores ({busy_app:.0%}) + {db}-core primary ({busy_db:.0%})",
            result,
        )


def drop(seed: int, units: int, customers: int, burst_seconds: float) -> Iterator[Line]:
    machine = Machine(app_cores=96, db_cores=64)
    rate = customers / burst_seconds
    for stripes in (1, 8, 32):
        share = [units // stripes + (1 if i < units % stripes else 0) for i in range(stripes)]
        model = Model(machine, share, seed)
        out = model.run(rate, burst_seconds)
        assert out.accepted == units, (out.accepted, units)  # the cap is exact
        yield Line(
            "drop",
            f"{customers:,} customers in {burst_seconds:.0f} s for {units:,} units, "
            f"{stripes} stripe{'s' if stripes > 1 else ''}, 96 API + 64 DB cores",
            f"sold out in {out.last_accept:.1f} s ({units / out.last_accept:,.0f}/s), "
            f"p99 confirmation {out.percentile(99):.2f} s, refused {out.refused:,}",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="shorter simulated periods")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else 20.0
    print(
        f"Model costs: service {APP_MS} ms, PostgreSQL {DB_MS} ms (of which the row held "
        f"{ROW_MS:.2f} ms) per order; load generator {CLIENT_MS} ms on this box; seed {args.seed}"
    )
    lines = [
        *calibration(args.seed, seconds),
        *hundredfold(args.seed, 0.5 if args.quick else 2.0),
        *drop(args.seed, 4_000 if args.quick else 20_000, 20_000 if args.quick else 100_000, 2.0),
    ]
    width = max(len(line.setup) for line in lines)
    for line in lines:
        print(f"{line.question:<12} {line.setup:<{width}}  {line.result}")


if __name__ == "__main__":
    main()
