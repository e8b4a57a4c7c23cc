"""Reading fields of a decoded JSON payload with the refusal that names where it went wrong:
every adapter reads through these, so "missing", "not a string" and "not storable" read the
same on every channel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.intake import Refusal, RefusalCode
from app.domain.text import MAX_CODE, MAX_TEXT, text_problem

MAX_EXTERNAL_ID = 128
MAX_DIGITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "TND": 3}  # ISO 4217 exponents ≠ 2


class Fields:
    """Reads one JSON object; collects refusals instead of raising (``problems``)."""

    def __init__(self, data: Any, path: str = "", problems: list[Refusal] | None = None):
        self.data = data if isinstance(data, dict) else {}
        self.path = path
        self.problems = problems if problems is not None else []
        if not isinstance(data, dict):
            self.fail(None, RefusalCode.MALFORMED, "Expected a JSON object.")

    def where(self, key: str | None) -> str | None:
        if key is None:
            return self.path or None
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | None, code: RefusalCode, message: str) -> None:
        self.problems.append(Refusal(self.where(key), code, message))

    def child(self, key: str, required: bool = False) -> Fields | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, RefusalCode.MISSING_FIELD, "Required.")
            return None
        return Fields(value, self.where(key) or key, self.problems)

    def items(self, key: str) -> list[Fields]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            self.fail(key, RefusalCode.MISSING_FIELD, "At least one item is required.")
            return []
        return [
            Fields(item, f"{self.where(key)}[{i}]", self.problems) for i, item in enumerate(value)
        ]

    def text(
        self, key: str, *, required: bool = False, limit: int = MAX_TEXT, one_line: bool = True
    ) -> str | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(key, RefusalCode.MISSING_FIELD, "Required.")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # ids and postal codes some channels send as numbers
        if not isinstance(value, str):
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be a string.")
            return None
        if why := text_problem(value, limit, one_line=one_line):
            self.fail(key, RefusalCode.INVALID_FIELD, why)
            return None
        return value.strip()

    def code(self, key: str, *, required: bool = False) -> str | None:
        return self.text(key, required=required, limit=MAX_CODE)

    def quantity(self, key: str) -> int | None:
        value = self.data.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be a whole number.")
            return None
        if not 1 <= value <= 100_000_000:
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be between 1 and 100000000.")
            return None
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be true or false.")
            return default
        return value

    def money_minor(self, key: str, currency: str | None) -> int | None:
        """A decimal amount (string or number, e.g. "59.99") in the currency's minor units."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be a decimal amount.")
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be a decimal amount.")
            return None
        digits = MAX_DIGITS.get(currency or "", 2)
        minor = amount.scaleb(digits)
        if not amount.is_finite() or minor != minor.to_integral_value() or not (0 <= minor < 2**62):
            self.fail(
                key, RefusalCode.INVALID_FIELD, f"Not an amount of {currency or 'the currency'}."
            )
            return None
        return int(minor)

    def currency(self, key: str) -> str | None:
        value = self.code(key)
        if value is not None and not (len(value) == 3 and value.isalpha()):
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be an ISO 4217 code, e.g. EUR.")
            return None
        return value.upper() if value else None

    def timestamp(self, key: str) -> datetime | None:
        raw = self.text(key, limit=64)
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or not 2000 <= parsed.year <= 2200:
            self.fail(key, RefusalCode.INVALID_FIELD, "Must be an ISO 8601 time with a zone.")
            return None
        return parsed


def external_id_of(document: Any, *keys: str) -> str | None:
    """The first of ``keys`` that holds a usable external order id (read before anything else,
    so the raw payload is stored under it)."""
    if not isinstance(document, dict):
        return None
    for key in keys:
        value = document.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if (
            isinstance(value, str)
            and value.strip()
            and text_problem(value, MAX_EXTERNAL_ID, one_line=True) is None
        ):
            return value.strip()
    return None
