"""Who is calling: API key from ``Authorization: Bearer`` or ``X-API-Key``; scope checks."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from app.services import auth
from app.services.results import Actor
from graphql_schema.context import Context
from graphql_schema.errors import AuthenticationError, PermissionDenied


def _key_from(request: Any) -> str | None:
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    value = headers.get("authorization")
    if value and value.lower().startswith("bearer "):
        return str(value[7:].strip())
    key = headers.get("x-api-key")
    return str(key) if key else None


async def current_actor(info: Info[Context, Any]) -> Actor | None:
    ctx = info.context
    if not ctx.actor_resolved:
        key = ctx.connection_key or _key_from(ctx.request)
        ctx.actor = await auth.authenticate(ctx.services, key) if key else None
        ctx.actor_resolved = True
        if key and ctx.actor is None:
            raise AuthenticationError("The API key is invalid or revoked.")
    return ctx.actor


async def require_internal(info: Info[Context, Any]) -> Actor:
    """Inventory internals (pools, on-hand, committed counts): ops and channel integrations,
    never anonymous callers or storefronts: they would show competitors the sales."""
    actor = await current_actor(info)
    if actor is None:
        raise AuthenticationError("An API key is required.")
    if not (actor.has_scope("ops") or any(s.startswith("channel:") for s in actor.scopes)):
        raise PermissionDenied("Inventory internals need the 'ops' or a channel scope.")
    return actor


async def require_scope(info: Info[Context, Any], scope: str) -> Actor:
    actor = await current_actor(info)
    if actor is None:
        raise AuthenticationError("An API key is required.")
    if not actor.has_scope(scope):
        raise PermissionDenied(f"This operation needs the {scope!r} scope.")
    return actor
