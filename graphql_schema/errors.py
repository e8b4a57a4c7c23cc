"""Errors: typed ``userErrors`` in mutation payloads (one error type and code enum per area),
and the exceptions clients may see as top-level errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import orjson
import strawberry
from graphql import GraphQLError

from app.logging import get_logger
from app.services.error_codes import (
    CatalogErrorCode,
    FulfilmentErrorCode,
    IntakeErrorCode,
    NotificationErrorCode,
    OrderErrorCode,
    PlacementErrorCode,
    QueueErrorCode,
    ShippingErrorCode,
    SupplyErrorCode,
)
from app.services.results import ServiceError
from app.storage.database import is_unavailable

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
strawberry.enum(
    FulfilmentErrorCode,
    description="Codes of shipments (steps, holds, dispatch, delivery), consolidation and "
    "channels' fulfilment settings.",
)
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


strawberry.enum(
    IntakeErrorCode,
    description="Codes of the channel intake: configuration, SKU maps, retries, replays.",
)


@strawberry.type(description="A problem with intake configuration or a failed payload.")
class IntakeError(UserError):
    code: IntakeErrorCode


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


SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_SECONDS = 2
"""The ``Retry-After`` of a SERVICE_UNAVAILABLE answer (HTTP 503)."""


class ServiceUnavailable(PublicError):
    """The database could not be reached or did not answer in time. Retryable: nothing was
    changed (a placement whose connection dropped during COMMIT may have been placed: its
    retry with the same idempotency key answers that order). The HTTP answer is a 503 with
    ``Retry-After``."""

    code = SERVICE_UNAVAILABLE

    def __init__(
        self, message: str = "The service is temporarily unavailable: retry the request shortly."
    ) -> None:
        super().__init__(message)


def says_unavailable(body: bytes) -> bool:
    """Whether a GraphQL response body (or a batch of them) carries a SERVICE_UNAVAILABLE
    error: the HTTP answer is then a 503. Parses only a body that names the code."""
    if SERVICE_UNAVAILABLE.encode() not in body:
        return False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    for result in parsed if isinstance(parsed, list) else [parsed]:
        errors = result.get("errors") if isinstance(result, dict) else None
        for error in errors if isinstance(errors, list) else ():
            extensions = error.get("extensions") if isinstance(error, dict) else None
            if isinstance(extensions, dict) and extensions.get("code") == SERVICE_UNAVAILABLE:
                return True
    return False


def make_should_mask(debug: bool) -> Callable[[GraphQLError], bool]:
    """Mask every resolver exception except ``PublicError``; never mask parse/validation.

    An exception that means the database is unavailable is not masked: the error becomes
    ``ServiceUnavailable``'s message and code (here, in place: the one hook every executed
    error passes through), so that clients know they may retry."""
    unavailable = ServiceUnavailable()

    def should_mask(error: GraphQLError) -> bool:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return False
        if not isinstance(original, PublicError) and is_unavailable(original):
            if not debug:
                error.message = str(unavailable)
            error.extensions = {**(error.extensions or {}), "code": SERVICE_UNAVAILABLE}
            return False
        if debug:
            return False
        return not isinstance(original, PublicError)

    return should_mask


# ---------------------------------------------------------------- what the log says of errors

log = get_logger("graphql_schema.errors")

# a client's key refused, or the service unable to answer: worth a WARNING, never a traceback
WARNING_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "SERVICE_UNAVAILABLE"})


def _path(error: GraphQLError) -> str:
    return ".".join(str(p) for p in error.path or ()) or "-"


def log_errors(errors: Sequence[GraphQLError]) -> None:
    """What a request's errors leave in the log. Errors of the client's making (a refused key,
    a bad argument, a document that does not parse or validate) are one line per request, at
    WARNING or INFO, without a traceback: nothing failed here, and a flood of bad keys must
    not flood the log. Anything else is a bug: ERROR, with its traceback. No line quotes the
    document (graphql-core's ``str(error)`` does, with the literals the client typed)."""
    by_code: dict[str, list[GraphQLError]] = {}
    for error in errors:
        original = error.original_error
        if isinstance(original, PublicError):
            by_code.setdefault(original.code, []).append(error)
        elif original is None or isinstance(original, GraphQLError):
            code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
            by_code.setdefault(str(code), []).append(error)
        elif is_unavailable(original):  # the database is down: one WARNING line, no traceback
            by_code.setdefault(SERVICE_UNAVAILABLE, []).append(error)
        else:
            log.error(
                "graphql_resolver_failed", path=_path(error), error=error.message, exc_info=original
            )
    for code, refused in by_code.items():
        level = log.warning if code in WARNING_CODES else log.info
        level(
            "graphql_refused" if code in WARNING_CODES else "graphql_client_error",
            code=code,
            errors=len(refused),
            message=refused[0].message[:200],
            paths=[_path(e) for e in refused[:5]],
        )


class OMSSchema(strawberry.Schema):
    """Strawberry's schema, logging errors with ``log_errors`` (Strawberry's own logs every
    error at ERROR with its traceback and the document's source)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        log_errors(errors)
