"""The HTTP edge of /graphql, before anything is parsed: who may ask how often (rate limits per
API key and per client address), how much may be sent (the body limit), and that what was sent
is a GraphQL request at all (a JSON object with the right members). Every refusal is a
GraphQL-shaped error with a stable ``extensions.code`` and the HTTP status that says it.

Rate limits are per replica (in-process counters from the ``limits`` library, whose windows
expire): N replicas allow N times the configured rate. Counters are keyed by the key's public
prefix or the client address, so their number is bounded by the callers of one window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import orjson
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response

from app.settings import Settings

AUTH_HEADERS = (b"authorization", b"x-api-key")


def error_response(
    message: str, code: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.anonymous: list[RateLimitItem] = _parse(settings.rate_limit_anonymous)
        self.keyed: list[RateLimitItem] = _parse(settings.rate_limit_key)
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

    @property
    def enabled(self) -> bool:
        return bool(self.anonymous or self.keyed)

    def check(self, scope: Mapping[str, Any]) -> Response | None:
        """None when the caller may go on; else the 429 to answer."""
        caller, items = self._caller(scope)
        for item in items:
            if not self._limiter.hit(item, caller):
                stats = self._limiter.get_window_stats(item, caller)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                return error_response(
                    f"Too many requests: at most {item} here. Try again in {wait} s.",
                    "RATE_LIMITED",
                    429,
                    {"Retry-After": str(wait)},
                )
        return None

    def _caller(self, scope: Mapping[str, Any]) -> tuple[str, list[RateLimitItem]]:
        for name, value in scope.get("headers", ()):
            if name in AUTH_HEADERS:
                # the key's public prefix (never the secret); a malformed one counts as itself
                token = value.decode("latin-1").removeprefix("Bearer ").strip()
                parts = token.split("_")
                prefix = parts[1] if len(parts) == 3 and parts[0] == "oms" else token[:24]
                return f"key:{prefix}", self.keyed
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}", self.anonymous


def _parse(text: str) -> list[RateLimitItem]:
    return list(parse_many(text)) if text.strip() else []


async def read_body(request: Request, limit: int) -> bytes | Response:
    """The body, or 413 as soon as it is known to be larger than ``limit`` (from
    Content-Length, else while it streams in): nothing larger is ever held or parsed."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            return error_response("Content-Length is not a number.", "BAD_REQUEST", 400)
        if int(declared) > limit:
            return _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # the executor reads it again
    return body


def _too_large(limit: int) -> Response:
    return error_response(
        f"The request body is larger than {limit} bytes.", "PAYLOAD_TOO_LARGE", 413
    )


MEMBERS: dict[str, tuple[type, ...]] = {
    "query": (str,),
    "operationName": (str,),
    "variables": (dict,),
    "extensions": (dict,),
}


MAX_NESTING = 64
"""Deepest JSON nesting a request may have (variables included): more is never a real input,
and deep values break serialisers further on."""


def _depth(value: Any) -> int:
    """How deep ``value`` nests (iteratively: a hostile body cannot exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_request(body: bytes, max_document_bytes: int) -> dict[str, Any] | Response:
    """The request as a dict of its members, or the 400 that says what is wrong with it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:  # also JSON nested deeper than the parser goes
        return error_response("The body is not valid JSON.", "BAD_REQUEST", 400)
    if not isinstance(data, dict):
        return error_response(
            "The body must be a JSON object with a `query` (batches are not accepted).",
            "BAD_REQUEST",
            400,
        )
    for member, kinds in MEMBERS.items():
        value = data.get(member)
        if value is not None and not isinstance(value, kinds):
            expected = "a string" if kinds == (str,) else "an object"
            return error_response(f"`{member}` must be {expected}.", "BAD_REQUEST", 400)
    if _depth(data) > MAX_NESTING:
        return error_response(
            f"The body nests deeper than {MAX_NESTING} levels.", "BAD_REQUEST", 400
        )
    query = data.get("query")
    persisted = (data.get("extensions") or {}).get("persistedQuery")
    if query is None and not isinstance(persisted, dict):
        return error_response("A `query` is required.", "BAD_REQUEST", 400)
    if isinstance(query, str) and len(query.encode()) > max_document_bytes:
        return error_response(
            f"The document is larger than {max_document_bytes} bytes.",
            "DOCUMENT_TOO_LARGE",
            400,
        )
    return data
