"""What a use case returns: a value, or typed errors that say which input field is at fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class CatalogErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE_SKU = "DUPLICATE_SKU"
    INVALID = "INVALID"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    CAP_BELOW_COMMITTED = "CAP_BELOW_COMMITTED"
    UNKNOWN_LOCATION = "UNKNOWN_LOCATION"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    UNKNOWN_REGION = "UNKNOWN_REGION"
    UNKNOWN_CARRIER_SERVICE = "UNKNOWN_CARRIER_SERVICE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    INVALID_PAYMENT_TERMS = "INVALID_PAYMENT_TERMS"


@dataclass(frozen=True)
class ServiceError:
    field: tuple[str, ...] | None
    code: str
    message: str


@dataclass
class Result(Generic[T]):
    value: T | None = None
    errors: list[ServiceError] = field(default_factory=list)
    replayed: bool = False  # the stored outcome of an earlier request with the same key

    @property
    def ok(self) -> bool:
        return not self.errors

    @classmethod
    def fail(cls, code: str, message: str, *field_path: str) -> Result[T]:
        return cls(errors=[ServiceError(tuple(field_path) or None, code, message)])


class Actor:
    """Who performs a change; recorded in every ledger and audit row."""

    def __init__(self, name: str, scopes: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.scopes = scopes

    def has_scope(self, scope: str) -> bool:
        return "ops" in self.scopes or scope in self.scopes

    def __repr__(self) -> str:
        return f"Actor({self.name!r})"


SYSTEM = Actor("system", frozenset({"ops"}))
