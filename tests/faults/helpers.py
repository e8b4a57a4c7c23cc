"""Fault-test plumbing (a plain module, no tests): the service as a real process that a test
may SIGKILL and start again on the same port, storefront clients that retry an order with its
idempotency key until it is answered, and the checks every fault test ends with."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.services.auth import create_api_key
from app.services.container import Services
from app.services.invariants import check
from app.settings import Settings
from app.storage.database import to_asyncpg_dsn
from app.storage.readpool import create_read_pool
from app.web.documents import TRUSTED_DIR, sha256
from tests.process_helpers import ROOT, clean_environment, free_port

PLACE_ORDER = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")
PLACE_ORDER_HASH = sha256(PLACE_ORDER)


class ServiceProcess:
    """``python -m app serve`` (or ``command``: ``worker``) on a fixed port: started,
    SIGKILLed and started again; its log in ``<name>-<start>.log`` files of ``log_dir``."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, command: str = "serve", name: str = "serve"
    ) -> None:
        self.port = free_port()
        self.env = env
        self.log_dir = log_dir
        self.command = command
        self.name = name
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-4000:]
            for p in sorted(self.log_dir.glob(f"{self.name}-*"))
        )

    async def start(self, seconds: float = 60) -> None:
        self.starts += 1
        with (self.log_dir / f"{self.name}-{self.starts}.log").open("wb") as sink:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 (killed and waited for synchronously)
                [sys.executable, "-m", "app", self.command, "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )
        await self.wait_ready(seconds)

    async def wait_ready(self, seconds: float) -> float:
        """Until ``/readyz`` answers 200; how long that took."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() - started < seconds:
                if self.proc is not None and self.proc.poll() is not None:
                    raise AssertionError(f"the server exited:\n{self.log()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(self.base_url + "/readyz")).status_code == 200:
                        return time.monotonic() - started
                await asyncio.sleep(0.05)
        raise AssertionError(f"not ready after {seconds} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole service (every worker process): no shutdown hook runs."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, seconds: float = 40) -> int:
        """SIGTERM; the exit status (the process must drain and exit by itself)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(seconds)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@contextlib.asynccontextmanager
async def service(env: dict[str, str], log_dir: Path) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(env, log_dir)
    await process.start()
    try:
        yield process
    finally:
        process.stop()


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    defaults = {
        "OMS_DATABASE_URL": database_url,
        "OMS_LOG_LEVEL": "WARNING",
        "OMS_ACCESS_LOG": "false",
        "OMS_RATE_LIMIT_ANONYMOUS": "",
        "OMS_RATE_LIMIT_KEY": "",
        "OMS_SCHEDULER_SECONDS": "0",
        "OMS_MAIL_RELAY_SECONDS": "0",
    }
    return clean_environment(**(defaults | settings))


async def ops_key(database_url: str) -> str:
    """An ops API key, made in process (a CLI process costs seconds of start-up)."""
    async with _services(database_url) as services:
        return (await create_api_key(services, "faults", ["ops"])).key


async def check_invariants(database_url: str) -> None:
    """What ``python -m app check-invariants`` runs (``app.services.invariants.check``): no
    error (warnings are allowed, as the command's exit code allows them)."""
    async with _services(database_url) as services:
        violations = await check(services)
    assert [str(v) for v in violations if v.is_error] == []


@contextlib.asynccontextmanager
async def _services(database_url: str) -> AsyncIterator[Services]:
    pool = await create_read_pool(database_url, 1, name="oms-fault-tests")
    try:
        yield Services(Settings(database_url=database_url), read_pool=pool, write_pool=pool)
    finally:
        await pool.close()


async def gql(base_url: str, key: str, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        answer = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    return body["data"]


async def stock(base_url: str, key: str, sku: str, units: int) -> None:
    data = await gql(
        base_url,
        key,
        """mutation($sku: String!, $units: Int!) {
          a: createProduct(input: {sku: $sku, name: $sku,
                                   price: {amountMinor: 1000, currency: EUR}}) {
            userErrors { code } }
          b: setStock(input: {sku: $sku, location: "main", quantity: $units}) {
            userErrors { code } } }""",
        sku=sku,
        units=units,
    )
    assert data == {"a": {"userErrors": []}, "b": {"userErrors": []}}, data


def order_body(key: str, sku: str) -> dict[str, Any]:
    return {
        "operationName": "PlaceOrder",
        "variables": {
            "input": {
                "idempotencyKey": key,
                "channel": "webstore",
                "customer": {"email": f"{key}@faults.example", "name": "Fault Tester"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": PLACE_ORDER_HASH}},
    }


@dataclass
class Storefront:
    """Clients that place one order per key and retry the same key until it is answered:
    what a storefront does when the connection drops or the service says 503."""

    base_url: str
    api_key: str
    sku: str
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> order number
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    refusals: list[tuple[float, int, str]] = field(default_factory=list)  # (s, status, code)

    async def place(self, client: httpx.AsyncClient, key: str, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                answer = await client.post(
                    self.base_url + "/graphql", json=order_body(key, self.sku), headers=headers
                )
            except httpx.TransportError as exc:
                self.errors.append(f"{type(exc).__name__} after {time.monotonic() - started:.1f}s")
                self.retries += 1
                await asyncio.sleep(0.1)
                continue
            if answer.status_code != 200 or "errors" in answer.json():
                code = answer.text[:200]
                with contextlib.suppress(ValueError, KeyError, IndexError):
                    code = answer.json()["errors"][0]["extensions"]["code"]
                self.refusals.append((time.monotonic() - started, answer.status_code, code))
                self.retries += 1
                await asyncio.sleep(0.1)
                continue
            payload = answer.json()["data"]["placeOrder"]
            assert payload["userErrors"] == [], payload
            number = payload["order"]["number"]
            # a replay answers the very order first acknowledged for this key
            assert self.acknowledged.setdefault(key, number) == number, (key, number)
            self.progress.set()
            return
        raise AssertionError(
            f"{key} was never answered; last refusals {self.refusals[-5:]}, "
            f"errors {self.errors[-5:]}"
        )

    async def until(self, acknowledged: int) -> None:
        """Until at least this many orders were acknowledged."""
        while len(self.acknowledged) < acknowledged:
            self.progress.clear()
            await self.progress.wait()

    async def run(self, keys: list[str], clients: int, seconds: float) -> None:
        """``clients`` concurrent clients working through ``keys`` one after another."""
        queue = iter(keys)
        deadline = time.monotonic() + seconds
        # one HTTP client (building one loads the CA bundle: ~50 ms of blocked loop each);
        # a connection per request, so that none is a stale kept-alive one after a kill
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=15, limits=limits) as http:

            async def client() -> None:
                for key in queue:
                    await self.place(http, key, deadline)

            await asyncio.gather(*(client() for _ in range(clients)))


async def orders_by_key(database_url: str, keys: list[str]) -> dict[str, list[str]]:
    """The order numbers stored under each idempotency key."""
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key AS k, array_agg(number ORDER BY number) AS numbers "
            "FROM orders WHERE idempotency_key = ANY($1::text[]) GROUP BY idempotency_key",
            keys,
        )
        return {r["k"]: list(r["numbers"]) for r in rows}
    finally:
        await conn.close()


async def ready_committed(database_url: str, sku: str) -> int:
    conn = await asyncpg.connect(to_asyncpg_dsn(database_url))
    try:
        value = await conn.fetchval(
            "SELECT ip.committed FROM inventory_pools ip JOIN products p ON p.id = ip.product_id "
            "WHERE p.sku = $1 AND ip.kind = 'READY'",
            sku,
        )
        return int(value)
    finally:
        await conn.close()
