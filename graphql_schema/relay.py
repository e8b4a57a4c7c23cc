"""Relay conventions: opaque global IDs, connections with cursors, one page-size rule.

Every list is a connection taking ``first: Int = 20`` (at most ``OMS_MAX_PAGE_SIZE``) and
``after: String`` (an ``endCursor``); ``totalCount`` is counted only when a client selects it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from app.domain.text import storable
from graphql_schema.errors import PublicError

T = TypeVar("T")

DEFAULT_PAGE = 20
FIRST = "How many items: 0 up to OMS_MAX_PAGE_SIZE (100 by default)."
AFTER = "The endCursor of the page before."


@strawberry.type(description="Where a page is in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description="How many items the list has with these arguments, over all pages "
        "(counted when asked for: it costs a count over the filter)."
    )
    async def total_count(self) -> int:
        return await self._count()


def encode_cursor(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PublicError("Invalid cursor.", "INVALID_CURSOR") from None
    prefix, _, value = raw.partition(":")
    if prefix != kind or not value or not storable(value):
        raise PublicError("Invalid cursor.", "INVALID_CURSOR")
    return value


def decode_int_cursor(kind: str, cursor: str | None) -> int | None:
    """A cursor holding a positive bigint id (ASCII digits only), else INVALID_CURSOR."""
    value = decode_cursor(kind, cursor)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 19):
        raise PublicError("Invalid cursor.", "INVALID_CURSOR")
    return int(value)


def check_page_size(first: int | None, maximum: int) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 0 <= size <= maximum:
        raise PublicError(f"`first` must be between 0 and {maximum}.", "INVALID_PAGE_SIZE")
    return size


def global_id(type_name: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def split_global_id(value: str) -> tuple[str, str] | None:
    """``(type name, key)`` of a global ID; None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(value.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, key = raw.partition(":")
    return (type_name, key) if type_name and key and storable(key) else None


def parse_global_id(type_name: str, value: str) -> str:
    return decode_cursor(type_name, value) or ""


def make_connection(
    rows: list[T],
    page_size: int,
    key: Callable[[T], str],
    kind: str,
    has_previous: bool,
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """``rows`` holds up to ``page_size + 1`` items: the extra one only says a next page exists.
    ``count`` is awaited only when the client selects ``totalCount``."""
    has_next = len(rows) > page_size
    edges = [Edge(cursor=encode_cursor(kind, key(row)), node=row) for row in rows[:page_size]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )
