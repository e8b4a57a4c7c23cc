"""Benchmark plumbing: a database, servers in subprocesses, and a lean HTTP load generator.

The load generator speaks HTTP/1.1 keep-alive over raw asyncio streams, so that the client costs
far less CPU than the servers it measures (both servers share these 2 cores with it and with
PostgreSQL). Every figure is printed beside a bare baseline measured on the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from app.storage.database import (
    discard_embedded_server,
    start_embedded_server,
    to_asyncpg_dsn,
    with_database,
)

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def benchmark_database(name: str) -> Iterator[str]:
    """A fresh database on ``OMS_DATABASE_URL``'s server or on an embedded one."""
    admin = os.environ.get("OMS_BENCH_ADMIN_URL") or os.environ.get("OMS_TEST_DATABASE_URL")
    folder = None
    if not admin:
        folder = tempfile.mkdtemp(prefix="oms-bench-pg-")
        os.chmod(folder, 0o755)
        admin = start_embedded_server(Path(folder))

    async def recreate() -> None:
        conn = await asyncpg.connect(to_asyncpg_dsn(admin))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    try:
        yield with_database(admin, name)
    finally:
        if folder is not None:
            discard_embedded_server(Path(folder))
        else:

            async def drop() -> None:
                conn = await asyncpg.connect(to_asyncpg_dsn(admin))
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()

            asyncio.run(drop())


def create_ops_key(url: str, name: str = "bench", scope: str = "ops") -> str:
    """An API key (ops unless ``scope`` says) created with the CLI (its secret: the last
    line printed)."""
    out = subprocess.run(
        [sys.executable, "-m", "app", "create-api-key", "--scope", scope, "--name", name],
        cwd=ROOT,
        env={**os.environ, "OMS_DATABASE_URL": url, "OMS_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def server_process(
    args: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    # load generators are one client: the per-client rate limits would measure themselves
    full_env = {
        **os.environ,
        "OMS_RATE_LIMIT_ANONYMOUS": "",
        "OMS_RATE_LIMIT_KEY": "",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server on {port} did not start")
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def split_deployment(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The production deployment (docs/scaling.md) of a service env: the API's env with the
    mail relay and the jobs off, and the env of the ``python -m app worker`` that runs them
    (for ``background_worker``)."""
    # the worker shares this machine's 2 cores with the API: it runs niced, as a co-located
    # worker should (OMS_WORKER_NICE), standing in for the cores of its own it has when deployed
    worker = env | {
        "OMS_WORKER_PORT": str(free_port()),
        "OMS_WORKERS": "1",
        "OMS_WORKER_NICE": "10",
    }
    return env | {"OMS_MAIL_RELAY_SECONDS": "0", "OMS_SCHEDULER_SECONDS": "0"}, worker


@contextlib.contextmanager
def background_worker(
    env: dict[str, str] | None,
) -> Iterator[subprocess.Popen[bytes] | None]:
    """``python -m app worker`` (the mail relay and the jobs, ``OMS_WORKER_PORT`` in ``env``)
    until its ``/readyz`` says its loops run; nothing when ``env`` is None."""
    if env is None:
        yield None
        return
    port = int(env["OMS_WORKER_PORT"])
    with server_process(["-m", "app", "worker"], port, env) as proc:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:  # 503 (HTTPError) until the loops run, or not listening yet
                pass
            if time.time() > deadline:
                raise RuntimeError(f"the worker on {port} never became ready")
            time.sleep(0.1)
        yield proc


def _cpu_seconds(match: Callable[[int, list[bytes]], bool]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is stat field 3 (state): ppid is field 4, session 6, utime 14, stime 15
        if match(int(entry), fields):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def session_cpu_seconds(session: int) -> float:
    """User + system CPU seconds of every live process in ``session`` (a server started by
    ``server_process`` leads its own session, worker processes included)."""
    return _cpu_seconds(lambda pid, fields: int(fields[3]) == session)


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and its live children (PostgreSQL: the postmaster and its
    backends; a backend's CPU is lost once it exits, so measure before closing connections)."""
    return _cpu_seconds(lambda pid, fields: pid == root or int(fields[1]) == root)


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        index = min(len(data) - 1, max(0, round(p / 100 * len(data)) - 1))
        return data[index]

    def line(self, label: str, unit: str = "req/s") -> str:
        return (
            f"{label:<32} {self.rps:>9.0f} {unit}   p50 {self.percentile(50) * 1000:6.2f} ms   "
            f"p99 {self.percentile(99) * 1000:6.2f} ms   errors {self.errors}"
        )


def build_request(path: str, body: dict[str, object] | bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST; ``body`` is JSON-encoded unless given as bytes (signed as sent)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + payload


async def _one_connection(
    port: int,
    requests: Iterator[bytes],
    stop_at: float,
    latencies: list[float],
    counters: list[int],
    check: bytes | None,
    on_failure: Callable[[str], None] | None,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            request = next(requests)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            ok = head.startswith(b"HTTP/1.1 200") and (check is None or check in body)
            counters[0 if ok else 1] += 1
            if not ok and on_failure is not None:
                on_failure((head.split(b"\r\n")[0] + b" " + body).decode(errors="replace"))
    finally:
        writer.close()


async def run_load(
    port: int,
    requests: list[bytes] | Iterator[bytes],
    seconds: float,
    connections: int,
    check: bytes | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> LoadResult:
    """Keep ``connections`` keep-alive connections busy for ``seconds``.

    A list is replayed (each connection cycles it from its own offset); an iterator is shared,
    so no request is ever sent twice (e.g. unique idempotency keys).
    """
    latencies: list[float] = []
    counters = [0, 0]
    started = time.perf_counter()
    stop_at = started + seconds

    def source(i: int) -> Iterator[bytes]:
        if isinstance(requests, list):
            return itertools.cycle(requests[i:] + requests[:i])
        return requests

    await asyncio.gather(
        *(
            _one_connection(port, source(i), stop_at, latencies, counters, check, on_failure)
            for i in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    return LoadResult(counters[0], counters[1], elapsed, latencies)


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} (runs: {', '.join(f'{v:.3f}' for v in values)})"


# ---------------------------------------------------------------- results the runner collects


@dataclass
class Row:
    """One figure of a benchmark beside its bare baseline from the same run.

    The protocol between a benchmark module and ``benchmarks/run.py``: a module exposes
    ``measure(quick: bool = False) -> list[Row]`` (it starts the database and servers it
    needs and stops them before it returns) and stays runnable alone (``python -m
    benchmarks.<name>`` prints the same rows). ``ratio`` is ours / baseline when more is
    better (throughput), baseline / ours when less is (seconds, milliseconds), so 1.0 is
    "as fast as the baseline" either way.
    """

    benchmark: str
    scenario: str
    unit: str  # "req/s", "orders/s", "s", "ms"
    value: float
    baseline: float | None = None
    baseline_label: str = ""
    higher_is_better: bool = True
    p50_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or not self.value:
            return None
        if self.higher_is_better:
            return self.value / self.baseline
        return self.baseline / self.value

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.__dict__)
        out["ratio"] = self.ratio
        return out


def print_rows(rows: list[Row]) -> None:
    """The rows as one aligned table (what the runner and each script print)."""
    header = (
        f"{'benchmark':<11} {'scenario':<46} {'ours':>10} {'baseline':>10} {'ratio':>6} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'p999 ms':>8}  unit / baseline / target / note"
    )
    print(header)
    print("-" * len(header))

    def num(value: float | None, digits: int = 1) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    for r in rows:
        digits = 3 if r.unit == "s" else (1 if r.unit == "ms" else 0)
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        extra = "; ".join(x for x in (r.baseline_label, r.target, r.note) if x)
        print(
            f"{r.benchmark:<11} {r.scenario[:46]:<46} {num(r.value, digits):>10} "
            f"{num(r.baseline, digits):>10} {ratio:>6} {num(r.p50_ms):>8} {num(r.p99_ms):>8} "
            f"{num(r.p999_ms):>8}  {r.unit}" + (f" / {extra}" if extra else "")
        )


# ---------------------------------------------------------------- open-loop load


@dataclass
class OpenLoopResult:
    """Latencies at a fixed arrival rate, each measured from the request's intended send
    time (coordinated omission corrected: a request that had to wait for a free connection
    or for the server counts that wait), in an HdrHistogram (µs, 3 significant digits)."""

    rate: float
    sent: int
    ok: int
    errors: int
    seconds: float
    histogram: Any

    def ms(self, percentile: float) -> float:
        return float(self.histogram.get_value_at_percentile(percentile)) / 1000

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label:<32} {self.rate:>7.0f}/s offered, {self.achieved:>7.0f}/s answered   "
            f"p50 {self.ms(50):7.1f} ms  p99 {self.ms(99):7.1f} ms  p999 {self.ms(99.9):7.1f} ms"
            f"   errors {self.errors}"
        )


def new_histogram() -> Any:
    from hdrh.histogram import HdrHistogram  # the bench extra

    return HdrHistogram(1, 120_000_000, 3)  # 1 µs .. 120 s


async def run_open_loop(
    port: int,
    requests: Iterator[bytes],
    rate: float,
    seconds: float,
    connections: int = 128,
    check: bytes | None = None,
) -> OpenLoopResult:
    """Send request ``i`` at ``start + i / rate`` for ``seconds``, whatever the answers do.

    ``connections`` keep-alive connections take the next scheduled request when free; when
    all are busy the next request goes out late, and its latency still counts from when it
    was due (so a stall shows up in the percentiles instead of silently lowering the load).
    """
    histogram = new_histogram()
    counters = [0, 0, 0]  # sent, ok, errors
    schedule = itertools.count()
    started = time.perf_counter() + 0.05
    stop_at = started + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                due = started + next(schedule) / rate
                if due >= stop_at:
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                counters[0] += 1
                writer.write(next(requests))
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                histogram.record_value(max(1, int((time.perf_counter() - due) * 1_000_000)))
                ok = head.startswith(b"HTTP/1.1 200") and (check is None or check in body)
                counters[1 if ok else 2] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return OpenLoopResult(rate, counters[0], counters[1], counters[2], elapsed, histogram)


def client_cpu_seconds() -> float:
    """CPU seconds of this process (the load generator) so far."""
    return time.process_time()


def machine() -> dict[str, object]:
    """Where a run happened: host, CPU model, cores, load, commit (dirty or not)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout
        return out.strip()

    return {
        "host": socket.gethostname(),
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": sys.version.split()[0],
    }


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy (all processes, ours or not), from
    /proc/stat: beside our processes' CPU it shows what the rest of the machine took."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
