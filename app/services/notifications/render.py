"""Messages from templates: Jinja2 (HTML autoescaped, with a plain-text alternative), dates and
money in the store's locale through Babel.

Each template ``<name>`` is three files under ``templates/``: ``<name>.subject.j2`` (one line),
``<name>.html.j2`` (extends ``_layout.html.j2``) and ``<name>.txt.j2`` (extends
``_layout.txt.j2``). ``StrictUndefined``: a template that names something its context lacks
fails to render instead of sending a blank.

The context every template gets (``MessageContext``) and what each adds is in
``app.services.notifications.content``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, get_currency_precision
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.domain.notifications import Template

TEMPLATES = Path(__file__).with_name("templates")
EN_DASH = "\u2013"


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def money(amount_minor: int | None, currency: str, locale: str) -> str:
    """``1999, "EUR"`` → ``€19.99`` (``en``) or ``19,99 €`` (``de``)."""
    if amount_minor is None:
        return ""
    digits = get_currency_precision(currency)
    value = Decimal(amount_minor).scaleb(-digits)
    return str(format_currency(value, currency, locale=locale))


def day(value: date | datetime | str | None, locale: str, fmt: str = "long") -> str:
    """A date in the customer's words: ``1 July 2027`` (``en_GB``), ``1. Juli 2027`` (``de``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return str(format_date(value, format=fmt, locale=locale))


def window(
    earliest: date | str | None, latest: date | str | None, locale: str, unknown: str
) -> str:
    """``12 - 19 January 2027`` (with an en dash); one date when both are the same;
    ``unknown`` without dates."""
    if latest is None:
        return unknown
    if earliest is None or earliest == latest:
        return day(latest, locale)
    return f"{day(earliest, locale)} {EN_DASH} {day(latest, locale)}"


def moment(value: datetime | None, locale: str, timezone: str) -> str:
    if value is None:
        return ""
    return str(format_datetime(value, format="medium", tzinfo=_tz(timezone), locale=locale))


def _tz(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@lru_cache(maxsize=4)
def environment(locale: str, timezone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = lambda amount, currency: money(amount, currency, locale)
    env.filters["day"] = lambda value, fmt="long": day(value, locale, fmt)
    env.filters["moment"] = lambda value: moment(value, locale, timezone)
    env.globals["window"] = lambda earliest, latest, unknown="date to be confirmed": window(
        earliest, latest, locale, unknown
    )
    return env


def render(template: Template, context: dict[str, Any], locale: str, timezone: str) -> Rendered:
    env = environment(locale, timezone)
    name = template.value
    subject = env.get_template(f"{name}.subject.j2").render(context)
    return Rendered(
        subject=" ".join(subject.split()),
        html=env.get_template(f"{name}.html.j2").render(context),
        text=env.get_template(f"{name}.txt.j2").render(context),
    )
