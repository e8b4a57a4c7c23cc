"""Errors: typed ``userErrors`` in mutation payloads (one error type and code enum per area),
and the exceptions clients may see as top-level errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import strawberry
from graphql import GraphQLError

from app.services.error_codes import (
    CatalogErrorCode,
    FulfilmentErrorCode,
    NotificationErrorCode,
    OrderErrorCode,
    PlacementErrorCode,
    QueueErrorCode,
    ShippingErrorCode,
    SupplyErrorCode,
)
from app.services.results import ServiceError

_FIELD = "Path to the input field at fault, e.g. ['input', 'lines', '0', 'quantity']."
_MESSAGE = "Human-readable explanation."


@strawberry.interface(
    description="A problem with a mutation's input: nothing was changed. Each area has its "
    "own type with a `code` from the area's enum."
)
class UserError:
    field: list[str] | None = strawberry.field(description=_FIELD)
    message: str = strawberry.field(description=_MESSAGE)


strawberry.enum(CatalogErrorCode, description="Codes of products, pools, stock and policies.")
strawberry.enum(PlacementErrorCode, description="Codes of placeOrder.")
strawberry.enum(
    OrderErrorCode, description="Codes of cancellation, tags, customer priority and renewals."
)
strawberry.enum(QueueErrorCode, description="Codes of pause, resume and answers to delays.")
strawberry.enum(FulfilmentErrorCode, description="Codes of dispatch and delivery.")
strawberry.enum(
    SupplyErrorCode,
    description="Codes of purchase orders, production runs, receipts and allocation policies.",
)
strawberry.enum(ShippingErrorCode, description="Codes of carrier services.")
strawberry.enum(
    NotificationErrorCode,
    description="Codes of messages to customers: retries, replays, unsubscribing, alerts.",
)


@strawberry.type(description="A problem with a product, pool, stock or policy change.")
class CatalogError(UserError):
    code: CatalogErrorCode


@strawberry.type(description="Why an order could not be placed.")
class PlacementError(UserError):
    code: PlacementErrorCode


@strawberry.type(description="A problem with a change to a placed order.")
class OrderError(UserError):
    code: OrderErrorCode


@strawberry.type(description="A problem with pausing, resuming or answering a delay.")
class QueueError(UserError):
    code: QueueErrorCode


@strawberry.type(description="A problem with a message to customers or an alert sign-up.")
class NotificationError(UserError):
    code: NotificationErrorCode


@strawberry.type(description="A problem with a dispatch or a delivery.")
class FulfilmentError(UserError):
    code: FulfilmentErrorCode


@strawberry.type(description="A problem with supply, a receipt or an allocation policy.")
class SupplyError(UserError):
    code: SupplyErrorCode


@strawberry.type(description="A problem with a carrier service.")
class ShippingError(UserError):
    code: ShippingErrorCode


class AreaError(Protocol):
    def __init__(self, *, field: list[str] | None, message: str, code: Any) -> None: ...


E = TypeVar("E", bound=AreaError)


def user_errors(kind: Callable[..., E], errors: Sequence[ServiceError]) -> list[E]:
    """A use case's errors as the payload's error type (the codes are already the area's)."""
    return [
        kind(field=list(e.field) if e.field else None, message=e.message, code=e.code)
        for e in errors
    ]


def input_errors(errors: Sequence[ServiceError]) -> list[ServiceError]:
    """Field paths of a mutation's errors start at its ``input`` argument."""
    return [
        ServiceError(
            ("input", *e.field) if e.field and e.field[0] != "input" else e.field,
            e.code,
            e.message,
        )
        for e in errors
    ]


class PublicError(Exception):
    """An error whose message is safe to show to clients (auth, not found, limits, a query's
    bad argument).

    graphql-core copies ``extensions`` of the original exception into the ``GraphQLError``, so
    every response error from a ``PublicError`` carries ``extensions.code`` (and, for a bad
    argument, ``extensions.field``).
    """

    code = "BAD_REQUEST"

    def __init__(
        self, message: str, code: str | None = None, field: Sequence[str] | None = None
    ) -> None:
        super().__init__(message)
        if code:
            self.code = code
        self.extensions: dict[str, Any] = {"code": self.code}
        if field:
            self.extensions["field"] = list(field)


class AuthenticationError(PublicError):
    code = "UNAUTHENTICATED"


class PermissionDenied(PublicError):
    code = "FORBIDDEN"


def argument_error(errors: Sequence[ServiceError]) -> PublicError:
    """A query's bad argument, as the field's error (queries carry no ``userErrors``)."""
    first = errors[0]
    return PublicError(first.message, str(first.code), first.field)


def make_should_mask(debug: bool) -> Callable[[GraphQLError], bool]:
    """Mask every resolver exception except ``PublicError``; never mask parse/validation."""

    def should_mask(error: GraphQLError) -> bool:
        if debug:
            return False
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return False
        return not isinstance(original, PublicError)

    return should_mask
