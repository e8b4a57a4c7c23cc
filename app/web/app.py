"""The Starlette application factory: GraphQL, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app.metrics import HTTP_LATENCY, HTTP_REQUESTS, POOLS, exposition
from app.services.auth import key_from_headers, key_prefix
from app.services.container import Services, system_now
from app.services.live import LiveHub
from app.settings import Settings
from app.storage.database import redact
from app.storage.ledger import EVENTS_CHANNEL
from app.storage.migrate import current_revisions, head_revisions
from app.storage.notify import INVENTORY_CHANNEL, ChangeListener
from app.storage.readpool import create_read_pool
from app.web.background import background_loops
from app.web.documents import DocumentStore
from app.web.edge import RateLimiter
from app.web.graphiql import graphiql_routes
from app.web.graphql_view import EdgeLimits, OMSGraphQL
from app.web.intake import intake_routes
from app.web.pages import page_routes
from app.web.response_cache import ResponseCache
from graphql_schema.compiled import compile_documents
from graphql_schema.inventory.resolve import availability_for
from graphql_schema.schema import build_schema

log = structlog.stdlib.get_logger("app.web")

KNOWN_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})
# ``/intake/<channel>`` is one route in the metrics, not one per channel named by a caller


class RequestContextMiddleware:
    """Request id (``X-Request-ID`` in and out), structured access log, HTTP metrics."""

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        path = scope.get("path", "")
        route = path if path in KNOWN_ROUTES else _route_label(path)
        method = scope.get("method", "WS")
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            # a WebSocket's frames pass straight through (a thousand subscribers of a SKU is
            # a thousand frames per change); only HTTP responses get the header
            await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)
        finally:
            elapsed = time.perf_counter() - started
            if scope["type"] == "http":
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_LATENCY.labels(method, route).observe(elapsed)
                if self.access_log:
                    log.info(
                        "http_request",
                        method=method,
                        path=path,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                        **_caller_fields(scope),
                    )
            structlog.contextvars.unbind_contextvars("request_id")


def _route_label(path: str) -> str:
    if path.startswith("/intake/"):
        return "/intake/{channel}/batch" if path.endswith("/batch") else "/intake/{channel}"
    return "other"


def _caller_fields(scope: Scope) -> dict[str, str]:
    """The access log's view of the caller: the GraphQL operation (a known name, ``other`` or
    ``anonymous``; set by the view in ``scope["state"]``) and the API key's public prefix
    (``malformed`` for anything else in the header), never the secret."""
    fields: dict[str, str] = {}
    operation = scope.get("state", {}).get("graphql_operation")
    if operation:
        fields["operation"] = operation
    key = key_from_headers(Headers(scope=scope))
    if key:
        fields["api_key_prefix"] = key_prefix(key) or "malformed"
    return fields


def create_app(
    settings: Settings,
    database_url: str,
    clock: Callable[[], datetime] = system_now,
) -> Starlette:
    holder: dict[str, Services] = {}
    hubs: dict[str, LiveHub] = {}
    heads = head_revisions()
    documents = DocumentStore(
        allow_registration=settings.persisted_queries, max_bytes=settings.document_cache_bytes
    )
    documents.load_trusted()
    response_cache = ResponseCache(settings.pdp_cache_seconds)
    response_cache.set_enabled(False)  # until the change listener is connected

    def services() -> Services:
        return holder["services"]

    def live() -> LiveHub | None:
        return hubs.get("live")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connect, acquire = settings.db_connect_timeout, settings.db_acquire_timeout
        read_pool = await create_read_pool(
            database_url,
            settings.db_read_pool_size,
            connect_timeout=connect,
            acquire_timeout=acquire,
        )
        write_pool = await create_read_pool(
            database_url,
            settings.db_write_pool_size,
            name="preorder-oms-write",
            connect_timeout=connect,
            acquire_timeout=acquire,
        )
        svc = Services(settings, clock=clock, read_pool=read_pool, write_pool=write_pool)
        holder["services"] = svc
        app.state.services = svc
        pool_key = f"{id(svc):x}"
        POOLS.pools[f"{pool_key}-read"] = read_pool
        POOLS.pools[f"{pool_key}-write"] = write_pool

        hub = LiveHub(
            svc,
            poll_seconds=settings.live_poll_seconds,
            coalesce_seconds=settings.live_coalesce_ms / 1000,
            queue_size=settings.live_queue_size,
        )
        await hub.start()
        hubs["live"] = hub

        mail_wake = asyncio.Event()

        def on_change(channel: str, payload: str) -> None:
            if channel == INVENTORY_CHANNEL:
                response_cache.clear()
            hub.notified(channel, payload)
            mail_wake.set()

        def on_listener_state(connected: bool) -> None:
            # Without the wake-up, caches could outlive a change: keep them off until back.
            response_cache.set_enabled(connected)
            svc.cache.clear()
            hub.listener_state(connected)
            log.info("change_listener", connected=connected)

        listener = ChangeListener(
            database_url, (INVENTORY_CHANNEL, EVENTS_CHANNEL), on_change, on_listener_state
        )
        listener.start()
        app.state.listener = listener
        # Placements' inventory wake-ups: one NOTIFY per window, after COMMIT.
        svc.inventory_notifier.start()
        log.info("service_started", database=redact(database_url))
        try:
            async with background_loops(svc, settings, mail_wake) as loops:
                if loops:
                    log.info("background_loops_started", loops=loops)
                yield
        finally:
            await listener.stop()
            await hub.stop()
            hubs.pop("live", None)
            await svc.inventory_notifier.stop()  # sends what is still pending
            POOLS.pools.pop(f"{pool_key}-read", None)
            POOLS.pools.pop(f"{pool_key}-write", None)
            await read_pool.close()
            await write_pool.close()
            log.info("service_stopped")

    schema = build_schema(settings)
    compiled = compile_documents(
        schema._schema,
        list(documents.trusted.values()),
        {"productAvailability": availability_for},
    )
    graphql_app = OMSGraphQL(
        services,
        live,
        documents,
        response_cache,
        compiled,
        EdgeLimits(RateLimiter(settings), settings.max_body_bytes, settings.max_document_bytes),
        schema=schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        connection_init_wait_timeout=timedelta(seconds=10),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        keep_alive=True,
        keep_alive_interval=15,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        svc = services()
        checks: dict[str, str] = {}
        ready = True
        current: set[str] = set()
        try:
            async with svc.read() as conn:
                current = await current_revisions(conn)
            checks["database"] = "ok"
        except Exception as exc:
            log.warning("readiness_database_failed", error=type(exc).__name__)
            checks["database"] = "unreachable"
            ready = False
        if ready:
            if current == heads:
                checks["migrations"] = "at head"
            else:
                checks["migrations"] = "behind head"
                ready = False
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    app = Starlette(
        debug=settings.debug,
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            *graphiql_routes(settings.graphiql),
            *page_routes(services, settings.graphiql),
            *intake_routes(services),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestContextMiddleware, access_log=settings.access_log)
    app.state.response_cache = response_cache
    app.state.documents = documents
    app.state.compiled = compiled
    return app


def app_from_environment() -> Starlette:
    """The app of one worker process when ``serve`` runs several (uvicorn ``factory=True``)."""
    from app.logging import configure_logging, tune_gc
    from app.settings import Settings

    settings = Settings()
    if not settings.database_url:
        raise RuntimeError("worker processes need OMS_DATABASE_URL (set by `serve`)")
    if problems := settings.profile_problems(demo=False):
        raise RuntimeError("; ".join(problems))
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings, settings.database_url)
    tune_gc(settings.gc_threshold)
    return app
