"""What the log processors keep out of a line: database errors' messages (they quote row values
and arguments), e-mail addresses anywhere, and GraphQL source excerpts."""

from __future__ import annotations

import asyncpg
from graphql import GraphQLError, parse

from app.logging import format_exc_info, format_exception, scrub_personal_data


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_a_database_error_is_shown_by_its_sqlstate_and_constraint_never_its_message() -> None:
    error = asyncpg.UniqueViolationError('duplicate key value violates unique constraint "uq"')
    error.detail = "Key (email)=(ada@example.com) already exists."
    error.constraint_name = "customers_email_key"
    error.table_name = "customers"
    text = format_exception((type(error), error, _raised(error).__traceback__))
    assert "ada@example.com" not in text
    assert "duplicate key" not in text
    assert "sqlstate=23505" in text
    assert "constraint_name=customers_email_key" in text
    assert "UniqueViolationError" in text


def test_a_database_error_behind_another_exception_is_withheld_too() -> None:
    address = "@".join(("ada", "example.com"))  # not in the traceback's source lines
    try:
        try:
            raise asyncpg.DataError(f"invalid input for query argument $1: {address!r}")
        except asyncpg.DataError as inner:
            raise RuntimeError("placement failed") from inner
    except RuntimeError as outer:
        text = format_exception((type(outer), outer, outer.__traceback__))
    assert "ada@example.com" not in text
    assert "placement failed" in text  # other exceptions keep their message
    assert "The above exception was the direct cause" in text


def test_other_exceptions_keep_their_traceback_and_message() -> None:
    error = _raised(ValueError("a plain bug"))
    event = format_exc_info(None, "error", {"event": "boom", "exc_info": error})
    assert "ValueError: a plain bug" in event["exception"]
    assert "Traceback (most recent call last)" in event["exception"]


def test_email_addresses_are_replaced_in_every_field_and_nested_value() -> None:
    event = scrub_personal_data(
        None,
        "info",
        {
            "event": "mail to ada@example.com sent",
            "to": ["bob.smith+tag@mail.example.co.uk"],
            "detail": {"reply": "carol@example.org"},
            "count": 2,
        },
    )
    assert event == {
        "event": "mail to <email> sent",
        "to": ["<email>"],
        "detail": {"reply": "<email>"},
        "count": 2,
    }
    url = "postgresql://oms:***@db.example:5432/oms"  # a redacted URL keeps its host
    assert scrub_personal_data(None, "info", {"url": url}) == {"url": url}


def test_graphql_source_excerpts_are_cut_from_error_messages() -> None:
    document = parse('{ a(x: "ada@example.com")\n  b }')
    error = GraphQLError("Cannot query field 'b'.", document.definitions[0])
    event = scrub_personal_data(None, "error", {"event": str(error), "after": "kept"})
    assert "GraphQL request" in str(error)
    assert event == {"event": "Cannot query field 'b'.", "after": "kept"}
