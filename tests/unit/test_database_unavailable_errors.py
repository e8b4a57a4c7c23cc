"""Which exceptions mean "the database is unavailable, retry" (SERVICE_UNAVAILABLE, HTTP 503),
and which stay masked internal errors."""

from __future__ import annotations

import asyncpg
import orjson
import pytest
from graphql import GraphQLError

from app.storage.database import is_unavailable
from graphql_schema.errors import PublicError, make_should_mask, says_unavailable


def _raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException:
            raise RuntimeError("rollback failed too") from None
    except RuntimeError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        FileNotFoundError(2, "no socket file"),
        OSError(113, "No route to host"),
        TimeoutError(),  # a connect or pool acquire timeout (asyncio.TimeoutError)
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.ConnectionFailureError("connection failure"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_failed_lost_or_timed_out_connection_means_unavailable(error: BaseException) -> None:
    assert is_unavailable(error)
    assert is_unavailable(_raised_from(error))


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        KeyError("a bug"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.CheckViolationError("new row violates check constraint"),
        asyncpg.DivisionByZeroError("division by zero"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bugs_and_refused_statements_are_not_unavailability(error: BaseException) -> None:
    assert not is_unavailable(error)


def _masked(original: Exception, debug: bool = False) -> tuple[bool, GraphQLError]:
    error = GraphQLError("raw", original_error=original)
    return make_should_mask(debug)(error), error


def test_an_unavailable_database_is_shown_as_service_unavailable_and_anything_else_is_masked() -> (
    None
):
    masked, error = _masked(ConnectionRefusedError(111, "Connect call failed 10.0.0.5:5432"))
    assert masked is False
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE"}
    assert "10.0.0.5" not in error.message
    assert "retry" in error.message

    masked, error = _masked(ValueError("secret detail"))
    assert masked is True
    masked, error = _masked(PublicError("Invalid cursor.", "INVALID_CURSOR"))
    assert masked is False
    assert error.extensions == {"code": "INVALID_CURSOR"}


def test_in_debug_mode_an_unavailable_database_keeps_its_detail_and_gets_the_code() -> None:
    masked, error = _masked(asyncpg.TooManyConnectionsError("too many clients"), debug=True)
    assert masked is False
    assert error.message == "raw"
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE"}


def test_a_response_says_unavailable_only_when_an_error_carries_the_code() -> None:
    error = {"message": "m", "extensions": {"code": "SERVICE_UNAVAILABLE"}}
    assert says_unavailable(orjson.dumps({"data": None, "errors": [error]}))
    assert says_unavailable(orjson.dumps([{"data": {}}, {"errors": [error]}]))
    # data that merely contains the word is an ordinary answer
    assert not says_unavailable(orjson.dumps({"data": {"note": "SERVICE_UNAVAILABLE"}}))
    assert not says_unavailable(b"SERVICE_UNAVAILABLE but not JSON")
    assert not says_unavailable(orjson.dumps({"data": {"ok": True}}))
