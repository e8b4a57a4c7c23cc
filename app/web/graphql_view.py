"""Strawberry's ASGI view with our context, persisted documents and the anonymous read cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.metrics import GRAPHQL_LATENCY, GRAPHQL_REQUESTS, PDP_CACHE
from app.services.auth import authenticate
from app.services.container import Services
from app.services.live import LiveHub
from app.web.documents import DocumentStore
from app.web.edge import RateLimiter, parse_request, read_body
from app.web.graphiql import graphiql_page
from app.web.graphql_ws import GraphQLWSHandler
from app.web.response_cache import ResponseCache, is_public_read
from graphql_schema.compiled import CompiledOperation, CompiledPlaceOrder, Handoff
from graphql_schema.context import Context
from graphql_schema.errors import RETRY_AFTER_SECONDS, ServiceUnavailable, says_unavailable
from graphql_schema.extensions import with_codes
from graphql_schema.schema import known_operation_names

AUTH_HEADERS = (b"authorization", b"x-api-key")


def _error(message: str, code: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), media_type="application/json")


def _retry_later(response: Response) -> Response:
    """A SERVICE_UNAVAILABLE answer (the database is unreachable) as HTTP 503 + Retry-After."""
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@dataclass(frozen=True)
class EdgeLimits:
    """What the edge refuses before parsing (``app.web.edge``)."""

    limiter: RateLimiter
    max_body_bytes: int
    max_document_bytes: int


class OMSGraphQL(GraphQL[Context, None]):
    # the legacy graphql-ws protocol runs queries and mutations too, not only subscriptions
    graphql_ws_handler_class = GraphQLWSHandler

    def __init__(
        self,
        services_ref: Callable[[], Services],
        live_ref: Callable[[], LiveHub | None],
        documents: DocumentStore,
        response_cache: ResponseCache,
        compiled: dict[str, CompiledOperation | CompiledPlaceOrder],
        edge: EdgeLimits,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.edge = edge
        self.compiled = compiled
        self.known_operations = known_operation_names()
        self._services = services_ref
        self._live = live_ref
        self.documents = documents
        self.response_cache = response_cache

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            services=self._services(),
            request=request,
            response=response,
            request_id=request.scope.get("state", {}).get("request_id"),
            live=self._live(),
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Authenticate a WebSocket once, from its connection params (never from the URL)."""
        params = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization") or params.get("apiKey")
        if not raw:
            return None
        key = str(raw)
        if key.lower().startswith("bearer "):
            key = key[7:].strip()
        actor = await authenticate(context.services, key)
        if actor is None:
            raise ConnectionRejectionError({"message": "The API key is invalid or revoked."})
        context.actor = actor
        context.actor_resolved = True
        return None

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the package's pinned assets (``app.web.graphiql``), no CDN."""
        return graphiql_page()

    def operation_label(self, name: object) -> str:
        """The operation's name for the access log: known names only (a trusted document's
        or a root field's), so a client cannot write into the log or grow its vocabulary."""
        if name is None:
            return "anonymous"
        return name if isinstance(name, str) and name in self.known_operations else "other"

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Every error leaves with a stable ``extensions.code`` (parse, validation, limit and
        variable errors get theirs here; the service's carry their own)."""
        if result.errors:
            with_codes(result.errors, executed=result.data is not None)
        return process_result(result)

    def decode_json(self, data: str | bytes) -> object:
        # orjson's errors are json.JSONDecodeError: Strawberry answers them with a 400
        return orjson.loads(data)

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, Request):
            limited = self.edge.limiter.check(request.scope)
            if limited is not None:
                return limited
        if not isinstance(request, Request) or request.method != "POST":
            return await super().run(request, context, root_value)  # type: ignore[arg-type]
        body = await read_body(request, self.edge.max_body_bytes)
        if isinstance(body, Response):
            return body
        parsed = parse_request(body, self.edge.max_document_bytes)
        if isinstance(parsed, Response):
            return parsed
        data = parsed

        query = data.get("query")
        rewrite_body = False  # the executor reads the body again: with the looked-up text
        persisted = (data.get("extensions") or {}).get("persistedQuery")
        if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
            digest = persisted["sha256Hash"]
            if isinstance(query, str):
                if not self.documents.register(digest, query):
                    return _error("The hash does not match the document.", "PERSISTED_QUERY_HASH")
            else:
                query = self.documents.lookup(digest)
                if query is None:
                    return _error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
                data["query"] = query
                rewrite_body = True

        key: bytes | None = None
        operation_name = data.get("operationName")
        request.scope.setdefault("state", {})["graphql_operation"] = self.operation_label(
            operation_name
        )
        if (
            self.response_cache.enabled
            and isinstance(query, str)
            and (operation_name is None or isinstance(operation_name, str))
            and not any(k in AUTH_HEADERS for k, _ in request.scope["headers"])
            and is_public_read(query, operation_name)
        ):
            variables = orjson.dumps(data.get("variables") or {}, option=orjson.OPT_SORT_KEYS)
            key = ResponseCache.key(query, operation_name, variables)
            hit = self.response_cache.get(key)
            if hit is not None:
                PDP_CACHE.labels("hit").inc()
                if request.headers.get("if-none-match") == hit.etag:
                    return Response(status_code=304, headers=self._cache_headers(hit.etag))
                return Response(
                    hit.body, media_type="application/json", headers=self._cache_headers(hit.etag)
                )
            PDP_CACHE.labels("miss").inc()

        handoff: Handoff | None = None
        compiled = self.compiled.get(query) if isinstance(query, str) else None
        if compiled is not None and (operation_name in (None, compiled.name)):
            started = time.perf_counter()
            raw_variables = data.get("variables")
            try:
                result = await compiled.execute(
                    await self.get_context(request, None),
                    raw_variables if isinstance(raw_variables, dict) else None,
                )
            except ServiceUnavailable as exc:
                return _retry_later(_error(str(exc), exc.code))
            if isinstance(result, Handoff):
                handoff = result
            elif result is not None:
                name = compiled.name or "anonymous"
                GRAPHQL_REQUESTS.labels(name, compiled.kind, "ok", "compiled").inc()
                GRAPHQL_LATENCY.labels(name, compiled.kind, "compiled").observe(
                    time.perf_counter() - started
                )
                body = orjson.dumps(result)
                headers = {}
                if key is not None:
                    headers = self._cache_headers(self.response_cache.put(key, body).etag)
                return Response(body, media_type="application/json", headers=headers)

        if rewrite_body:
            request._body = orjson.dumps(data)
        if handoff is None:
            response = await super().run(request, context, root_value)
        else:
            token = handoff.var.set(handoff.value)
            try:
                response = await super().run(request, context, root_value)
            finally:
                handoff.var.reset(token)
        if isinstance(response, Response) and says_unavailable(getattr(response, "body", b"")):
            return _retry_later(response)
        if key is not None and isinstance(response, Response) and response.status_code == 200:
            body = bytes(response.body)
            if b'"errors"' not in body:
                entry = self.response_cache.put(key, body)
                response.headers.update(self._cache_headers(entry.etag))
        return response

    def _cache_headers(self, etag: str) -> dict[str, str]:
        return {
            "Cache-Control": f"public, max-age={max(1, int(self.response_cache.seconds))}",
            "ETag": etag,
            "Vary": "Authorization, X-API-Key",
        }
