"""``python -m app worker``: the scheduled jobs and the e-mail relay without the API.

Rendering and sending one e-mail costs milliseconds of CPU; in the API process that time is
taken from the event loop that confirms orders, and it is what pushed placement's tail past
its target (``docs/performance.md``). A deployment runs its API replicas with
``OMS_SCHEDULER_SECONDS=0 OMS_MAIL_RELAY_SECONDS=0`` and one or more of these workers
(``docs/scaling.md``). Several workers are safe: jobs take advisory locks, the relay claims
with ``SKIP LOCKED``.

A worker serves only ``/healthz``, ``/readyz`` and ``/metrics`` (the relay's and the jobs'
counters live in this process) on ``OMS_WORKER_PORT``. It never migrates: it waits until the
database is at the migrations' head (``serve`` or ``migrate`` applies them), and ``/readyz``
says so meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.metrics import POOLS, exposition
from app.services.container import Services, system_now
from app.settings import Settings
from app.storage.database import redact
from app.storage.ledger import EVENTS_CHANNEL
from app.storage.migrate import current_revisions, head_revisions
from app.storage.notify import ChangeListener
from app.storage.readpool import create_read_pool
from app.web.background import background_loops, loops_enabled

log = structlog.stdlib.get_logger("app.worker")

POOL_SIZE = 3  # the relay and the scheduler each hold at most one or two at a time
MIGRATION_POLL_SECONDS = 2.0


class WorkerState:
    def __init__(self) -> None:
        self.services: Services | None = None
        self.listener: ChangeListener | None = None
        self.loops: list[str] = []  # running (empty until the database is at head)


def create_worker_app(
    settings: Settings, database_url: str, clock: Callable[[], datetime] = system_now
) -> Starlette:
    if not loops_enabled(settings):
        raise ValueError(
            "a worker with OMS_SCHEDULER_SECONDS=0 and OMS_MAIL_RELAY_SECONDS=0 has nothing to do"
        )
    heads = head_revisions()
    state = WorkerState()

    async def at_head(svc: Services) -> bool:
        with contextlib.suppress(Exception):
            async with svc.read() as conn:
                return await current_revisions(conn) == heads
        return False

    async def run_loops(svc: Services, wake: asyncio.Event, stopping: asyncio.Event) -> None:
        waited = False
        while not await at_head(svc):
            if not waited:
                log.info("worker_waiting_for_migrations")
                waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), MIGRATION_POLL_SECONDS)
            if stopping.is_set():
                return
        async with background_loops(svc, settings, wake) as loops:
            state.loops = loops
            log.info("worker_started", loops=loops, database=redact(database_url))
            await stopping.wait()
        state.loops = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        size = min(POOL_SIZE, settings.db_write_pool_size)
        pool = await create_read_pool(
            database_url,
            size,
            name="preorder-oms-worker",
            connect_timeout=settings.db_connect_timeout,
            acquire_timeout=settings.db_acquire_timeout,
        )
        svc = Services(settings, clock=clock, read_pool=pool, write_pool=pool)
        state.services = svc
        POOLS.pools[f"{id(svc):x}-worker"] = pool
        wake = asyncio.Event()

        def on_change(channel: str, payload: str) -> None:
            wake.set()  # a new event: the relay derives and sends at once

        def on_state(connected: bool) -> None:
            svc.cache.clear()
            log.info("change_listener", connected=connected)

        listener = ChangeListener(database_url, (EVENTS_CHANNEL,), on_change, on_state)
        listener.start()
        state.listener = listener
        stopping = asyncio.Event()
        runner = asyncio.create_task(run_loops(svc, wake, stopping), name="oms-worker")
        try:
            yield
        finally:
            stopping.set()
            await runner  # the loops drain their transactions (background_loops)
            await listener.stop()
            POOLS.pools.pop(f"{id(svc):x}-worker", None)
            await pool.close()
            log.info("worker_stopped")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "role": "worker"})

    async def readyz(request: Request) -> Response:
        svc = state.services
        checks: dict[str, object] = {}
        ready = svc is not None and await at_head(svc)
        checks["database"] = "at head" if ready else "unreachable or behind head"
        checks["loops"] = state.loops
        checks["listener"] = (
            "connected" if state.listener is not None and state.listener.connected else "down"
        )
        ready = ready and bool(state.loops)
        body = {"status": "ready" if ready else "not ready", "role": "worker", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return Starlette(
        debug=False,
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
