"""How much a failed intake payload matters, so ops fix the most valuable first.

``score = (order value in major units + 10 per unit) * urgency``, where urgency grows as the
order's dispatch deadline (the channel's own ``ship_by``, else received + the channel's SLA)
comes near: 3 once it has passed, 2 within a day, 1.5 within three days, else 1. A payload
that could not be read at all scores by its size alone (it may be anything)."""

from __future__ import annotations

from datetime import datetime

UNIT_WEIGHT = 10.0


def urgency(deadline: datetime | None, now: datetime) -> float:
    if deadline is None:
        return 1.0
    hours = (deadline - now).total_seconds() / 3600
    if hours <= 0:
        return 3.0
    if hours <= 24:
        return 2.0
    if hours <= 72:
        return 1.5
    return 1.0


def impact_score(
    value_minor: int | None,
    minor_digits: int,
    units: int | None,
    deadline: datetime | None,
    now: datetime,
) -> float:
    value = (value_minor or 0) / 10**minor_digits
    base = value + UNIT_WEIGHT * (units or 0)
    return float(round(base * urgency(deadline, now), 2))
