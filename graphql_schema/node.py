"""The ``Node`` interface and ``node(id:)`` / ``nodes(ids:)``: refetch any object by its global
ID (Relay), through the same DataLoaders and the same authorization policy as the typed
queries. Each area registers how its types are fetched (``register``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.relay import split_global_id

MAX_NODES = 100


@strawberry.interface(
    description="An object with a global ID: `node(id:)` fetches it again (Relay refetch), and "
    "normalised caches key on it."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Global, opaque and stable.")


Fetch = Callable[[Info[Context, Any], str], Awaitable[Any]]
_FETCHERS: dict[str, Fetch] = {}


def register(type_name: str, fetch: Fetch) -> None:
    """How ``node`` fetches a ``type_name`` by the key inside its global ID: the object when
    the caller may see it, None otherwise (or a top-level error, as the typed query gives)."""
    _FETCHERS[type_name] = fetch


async def resolve_node(info: Info[Context, Any], node_id: str) -> Node | None:
    parts = split_global_id(node_id)
    if parts is None or parts[0] not in _FETCHERS:
        return None
    found: Node | None = await _FETCHERS[parts[0]](info, parts[1])
    return found


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object by its global ID; null when there is none or the caller may "
        "not see it (an order needs ops, its channel's key or, through `order`, its token)."
    )
    async def node(self, info: Info[Context, Any], id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description=f"Objects by their global IDs, in the same order (at most {MAX_NODES})."
    )
    async def nodes(self, info: Info[Context, Any], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise PublicError(f"At most {MAX_NODES} ids.", "INVALID_PAGE_SIZE", ["ids"])
        # concurrently: the DataLoaders batch the look-ups of one type into one statement
        return list(await asyncio.gather(*(resolve_node(info, node_id) for node_id in ids)))
