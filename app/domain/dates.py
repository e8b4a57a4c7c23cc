"""Dates that enter the service: one planning horizon around today.

PostgreSQL's dates reach far beyond anything a store plans, and asyncpg stores Python's
``date.max`` and ``date.min`` as ``infinity`` and ``-infinity``, which no date arithmetic
survives: a release date of 9999-12-31 would be stored and then fail every answer that adds a
day to it. So every date a caller gives (release dates, supply expected dates, production
starts, delivery dates, date filters) must lie within ``HORIZON_DAYS`` of today; the rules of
each use case (not in the past, not in the future, not before the shipment) come on top.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

HORIZON_DAYS = 3660
"""About ten years either side of today: the longest lead time a supplier may quote, the
furthest a launch may be announced, the oldest date a filter or a release date may name."""


def horizon(today: date) -> tuple[date, date]:
    """The first and the last date accepted from a caller."""
    span = timedelta(days=HORIZON_DAYS)
    return today - span, today + span


def date_problem(
    value: date,
    today: date,
    *,
    past: bool = True,
    future: bool = True,
    what: str = "The date",
) -> str | None:
    """Why ``value`` cannot be accepted (a message for the caller), or None when it can: it
    must lie within the horizon, and not before today unless ``past``, nor after today unless
    ``future``."""
    first, last = horizon(today)
    if not past and value < today:
        return f"{what} is in the past."
    if not future and value > today:
        return f"{what} cannot be in the future."
    if not first <= value <= last:
        return f"{what} must be within {HORIZON_DAYS} days of today ({first} to {last})."
    return None


def timestamp_problem(value: datetime, today: date, *, what: str = "The time") -> str | None:
    """``date_problem`` for a point in time (a filter bound): its date must be within the
    horizon, whatever its time zone."""
    first, last = horizon(today)
    # compare the calendar date as given: a UTC offset moves it by at most a day, and the
    # horizon is far from the ends of what PostgreSQL and Python can represent
    if not first <= value.date() <= last:
        return f"{what} must be within {HORIZON_DAYS} days of today ({first} to {last})."
    return None


def time_of_day(text: str) -> time | None:
    """A time of day written ``HH:MM`` (24-hour, two digits each: ``09:30``, ``23:59``); None
    when ``text`` is not one. Channels' daily cut-offs are given so."""
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isascii():
        return None
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        return None
    if int(hours) > 23 or int(minutes) > 59:
        return None
    return time(int(hours), int(minutes))
