"""Relay-style connections with opaque cursors, and opaque global IDs."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from graphql_schema.errors import PublicError

T = TypeVar("T")

MAX_PAGE = 100


@strawberry.type
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
    total_count: int | None = strawberry.field(
        default=None,
        description="Rows matching the filter: products count them when asked; null elsewhere.",
    )

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


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
    if prefix != kind or not value:
        raise PublicError("Invalid cursor.", "INVALID_CURSOR")
    return value


def check_page_size(first: int | None) -> int:
    size = MAX_PAGE if first is None else first
    if size < 0 or size > MAX_PAGE:
        raise PublicError(f"`first` must be between 0 and {MAX_PAGE}.", "INVALID_PAGE_SIZE")
    return size


def global_id(type_name: str, key: str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(type_name: str, value: str) -> str:
    return decode_cursor(type_name, value) or ""


def make_connection(
    rows: list[T],
    page_size: int,
    key: Callable[[T], str],
    kind: str,
    has_previous: bool,
    total_count: int | None = None,
) -> Connection[T]:
    """``rows`` holds up to ``page_size + 1`` items: the extra one only says a next page exists."""
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
        total_count=total_count,
    )
