"""Text that enters the service: what PostgreSQL can store, in a sane length.

One rule for every text a caller gives (names, notes, SKUs, codes, addresses, search terms,
the keys and strings of JSON options). PostgreSQL's ``text`` and ``jsonb`` cannot hold a NUL
character, and UTF-8 (the database's encoding) cannot hold a lone surrogate (one half of a
UTF-16 pair, e.g. JSON's ``"\\ud800"``): either fails the statement, which the caller would
see as an unexpected error once the use case had started. One-line values (names, codes,
e-mail addresses, SKUs) also refuse line breaks and other control characters: they end up in
e-mail headers, file names and log lines.

A use case checks its input with these before it opens a transaction and refuses bad text as
a typed error on the field. A look-up by a value that cannot be stored (``lookup_key``)
answers as for an unknown one: nothing stored can match it.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_TEXT = 1000
"""The longest free text accepted anywhere (names, notes, references, reasons)."""

MAX_CODE = 64
"""The longest code (a SKU, a tag, a channel, a location)."""

MAX_JSON_DEPTH = 20
MAX_JSON_TEXT = 10_000
"""JSON a caller gives (product options): how deeply nested, how many characters of keys and
strings in all."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""PostgreSQL's ``bigint`` (amounts in minor units, JSON integers the service re-encodes)."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

UNSTORABLE = "Text with a NUL character or a lone surrogate cannot be stored."


def storable(value: str) -> bool:
    """Whether PostgreSQL can store ``value``: no NUL character, no lone surrogate."""
    return _UNSTORABLE.search(value) is None


def text_problem(
    value: str | None,
    limit: int = MAX_TEXT,
    *,
    required: bool = False,
    one_line: bool = False,
) -> str | None:
    """Why ``value`` cannot be accepted (a message for the caller), or None when it can.

    ``required``: absent or blank is a problem. ``one_line``: line breaks and other control
    characters are."""
    if value is None:
        return "A value is required." if required else None
    if not storable(value):
        return UNSTORABLE
    if one_line and _CONTROL.search(value):
        return "One line of text: no line breaks or other control characters."
    if len(value) > limit:
        return f"At most {limit} characters."
    if required and not value.strip():
        return "Must not be blank."
    return None


def clean_text(value: str | None, limit: int = MAX_TEXT, *, one_line: bool = False) -> bool:
    """True when ``value`` is absent, or text PostgreSQL can store of at most ``limit``
    characters (on one line when ``one_line``)."""
    return text_problem(value, limit, one_line=one_line) is None


def required_text(value: str | None, limit: int = MAX_TEXT, *, one_line: bool = False) -> bool:
    """``clean_text`` and not blank."""
    return text_problem(value, limit, required=True, one_line=one_line) is None


def lookup_key(value: str | None, limit: int = MAX_TEXT) -> bool:
    """Whether ``value`` could name a stored row (a SKU, a code, an order number): text that
    can be stored, of at most ``limit`` characters. When it cannot, the look-up answers as for
    an unknown key without asking the database."""
    return value is not None and len(value) <= limit and storable(value)


def json_problem(value: Any, limit: int = MAX_JSON_TEXT) -> str | None:
    """Why a JSON value a caller gave cannot be stored as ``jsonb`` (NUL or lone surrogates in
    a key or string, an integer outside 64 bits, a non-finite number, too deep, too long), or
    None when it can."""
    budget = [limit]

    def walk(item: Any, depth: int) -> str | None:
        if depth > MAX_JSON_DEPTH:
            return f"At most {MAX_JSON_DEPTH} levels of nesting."
        if item is None or isinstance(item, bool):
            return None
        if isinstance(item, int):
            return None if INT64_MIN <= item <= INT64_MAX else "Integers must fit in 64 bits."
        if isinstance(item, float):
            return None if math.isfinite(item) else "Numbers must be finite."
        if isinstance(item, str):
            budget[0] -= len(item)
            if budget[0] < 0:
                return f"At most {limit} characters of text in all."
            return None if storable(item) else UNSTORABLE
        if isinstance(item, list):
            for element in item:
                if problem := walk(element, depth + 1):
                    return problem
            return None
        if isinstance(item, dict):
            for key, element in item.items():
                if not isinstance(key, str):
                    return "Object keys must be strings."
                if problem := walk(key, depth + 1) or walk(element, depth + 1):
                    return problem
            return None
        return "Only JSON values: objects, arrays, strings, numbers, booleans and null."

    return walk(value, 0)
