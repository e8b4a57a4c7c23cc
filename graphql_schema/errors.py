"""Errors: typed ``userErrors`` in payloads, and which exceptions clients may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError


@strawberry.type(description="A problem with the input: nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, e.g. ['input', 'lines', '0', 'quantity']."
    )
    code: str = strawberry.field(description="Machine-readable code of the area's error enum.")
    message: str = strawberry.field(description="Human-readable explanation.")


class PublicError(Exception):
    """An error whose message is safe to show to clients (auth, not found, limits).

    graphql-core copies ``extensions`` of the original exception into the ``GraphQLError``, so
    every response error from a ``PublicError`` carries ``extensions.code``.
    """

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code
        self.extensions: dict[str, Any] = {"code": self.code}


class AuthenticationError(PublicError):
    code = "UNAUTHENTICATED"


class PermissionDenied(PublicError):
    code = "FORBIDDEN"


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
