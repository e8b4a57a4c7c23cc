"""What a use case returns: a value, or typed errors that say which input field is at fault."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceError:
    field: tuple[str, ...] | None
    code: StrEnum
    message: str


def refusals(
    code: StrEnum, checks: Iterable[tuple[tuple[str, ...], str | None]]
) -> list[ServiceError]:
    """An error with ``code`` for every ``(field path, problem)`` that has a problem (the
    messages of ``app.domain.text`` and ``app.domain.dates``), in the order given."""
    return [ServiceError(path, code, problem) for path, problem in checks if problem]


@dataclass
class Result(Generic[T]):
    value: T | None = None
    errors: list[ServiceError] = field(default_factory=list)
    replayed: bool = False  # the stored outcome of an earlier request with the same key

    @property
    def ok(self) -> bool:
        return not self.errors

    @classmethod
    def fail(cls, code: StrEnum, message: str, *field_path: str) -> Result[T]:
        return cls(errors=[ServiceError(tuple(field_path) or None, code, message)])


@dataclass(frozen=True)
class Changed:
    """A use case changed ``lines`` lines of an order."""

    order_id: uuid.UUID
    lines: int
    line_id: int | None = None  # the one line, when a use case changes one


class Actor:
    """Who performs a change; recorded in every ledger row."""

    def __init__(self, name: str, scopes: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.scopes = scopes

    def has_scope(self, scope: str) -> bool:
        return "ops" in self.scopes or scope in self.scopes

    def __repr__(self) -> str:
        return f"Actor({self.name!r})"


SYSTEM = Actor("system", frozenset({"ops"}))
