"""Who is calling (the API key of the request or the WebSocket), and the operation-level
checks of ``app.services.policy``, raised as top-level GraphQL errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from strawberry.types import Info

from app.services import auth, policy
from app.services.results import Actor
from graphql_schema.context import Context
from graphql_schema.errors import AuthenticationError, PermissionDenied


async def current_actor(info: Info[Context, Any]) -> Actor | None:
    """The request's caller, authenticated once per request however many fields ask (and
    however many ask at once: they share one look-up)."""
    ctx = info.context
    if not ctx.actor_resolved:
        if ctx.actor_lookup is None:
            ctx.actor_lookup = asyncio.ensure_future(_authenticate(ctx))
        actor = await asyncio.shield(ctx.actor_lookup)
        ctx.actor, ctx.actor_resolved = actor, True
    if ctx.actor is None and ctx.key_refused:
        raise AuthenticationError("The API key is invalid or revoked.")
    return ctx.actor


async def _authenticate(ctx: Context) -> Actor | None:
    headers = getattr(ctx.request, "headers", None)
    key = ctx.connection_key or auth.key_from_headers(headers)
    if not key:
        return None
    actor = await auth.authenticate(ctx.services, key)
    ctx.key_refused = actor is None
    return actor


async def require(
    info: Info[Context, Any], allowed: Callable[[Actor | None], bool], what: str
) -> Actor:
    """The caller, when ``policy`` lets it do this kind of operation: UNAUTHENTICATED without
    a key, FORBIDDEN when its scopes never allow it (decided before any lookup)."""
    actor = await current_actor(info)
    if actor is None:
        raise AuthenticationError("An API key is required.")
    if not allowed(actor):
        raise PermissionDenied(what)
    return actor


async def require_ops(info: Info[Context, Any]) -> Actor:
    return await require(info, policy.may_administer, "This operation needs the 'ops' scope.")


async def require_internal(info: Info[Context, Any]) -> Actor:
    """Inventory internals (pools, on-hand, committed counts, supply): ops and channel
    integrations, never anonymous callers or storefronts."""
    return await require(
        info, policy.may_read_internals, "Inventory internals need the 'ops' or a channel scope."
    )


async def require_order_manager(info: Info[Context, Any]) -> Actor:
    """Changes to orders after placement: ops and channel integrations (each on its own
    channel's orders; another channel's are NOT_FOUND)."""
    return await require(
        info, policy.may_manage_orders, "Changing orders needs the 'ops' or a channel scope."
    )


async def require_reader(info: Info[Context, Any], token: str | None) -> Actor | None:
    """Before any lookup of an order: an anonymous caller without a token learns nothing, not
    even whether an order number exists."""
    actor = await current_actor(info)
    if actor is None and not token:
        raise AuthenticationError("An API key or the order token is required.")
    return actor
