"""Free text that enters the service: what PostgreSQL can store and a sane length."""

from __future__ import annotations

MAX_TEXT = 1000
"""The longest free text accepted anywhere (names, notes, references, reasons)."""


def clean_text(value: str | None, limit: int = MAX_TEXT) -> bool:
    """True when ``value`` is absent, or text PostgreSQL can store (no NUL) of at most
    ``limit`` characters."""
    return value is None or ("\x00" not in value and len(value) <= limit)


def required_text(value: str | None, limit: int = MAX_TEXT) -> bool:
    """``clean_text`` and not blank."""
    return value is not None and bool(value.strip()) and clean_text(value, limit)
