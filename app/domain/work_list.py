"""The warehouse's work list: which open shipments a filter by urgency selects.

A shipment's urgency is ``app.domain.shipments.urgency`` of its dispatch deadline at a moment:
BREACHED from the deadline on, AT_RISK within the risk window before it, ON_TIME before that.
The list and its counts select by deadline ranges, so the storage compares timestamps and
never restates the rule: ``deadline_range`` is the range of each urgency, and
``urgency`` agrees with it for every deadline (``tests/unit/test_work_list_rules.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.shipments import Urgency


@dataclass(frozen=True)
class DeadlineRange:
    """Deadlines ``after < deadline <= until`` (None: unbounded on that side)."""

    after: datetime | None
    until: datetime | None

    def holds(self, deadline: datetime) -> bool:
        if self.after is not None and deadline <= self.after:
            return False
        return self.until is None or deadline <= self.until


def risk_starts(now: datetime, risk_window: timedelta) -> datetime:
    """Deadlines up to this moment are at risk (or breached) at ``now``."""
    return now + risk_window


def deadline_range(kind: Urgency, now: datetime, risk_window: timedelta) -> DeadlineRange:
    """The deadlines of shipments with urgency ``kind`` at ``now``. ``urgency`` says BREACHED
    when ``now >= deadline``; the range is written with an exclusive lower bound, so BREACHED
    is every deadline up to and including ``now`` (``after`` None, ``until`` now)."""
    risk = risk_starts(now, risk_window)
    if kind is Urgency.BREACHED:
        return DeadlineRange(None, now)
    if kind is Urgency.AT_RISK:
        return DeadlineRange(now, risk)
    return DeadlineRange(risk, None)


def deadline_ranges(
    kinds: Iterable[Urgency] | None, now: datetime, risk_window: timedelta
) -> list[DeadlineRange]:
    """The ranges of several urgencies, merged where they touch (all three, or none given: one
    unbounded range)."""
    wanted = set(Urgency) if kinds is None else set(kinds)
    ordered = [u for u in (Urgency.BREACHED, Urgency.AT_RISK, Urgency.ON_TIME) if u in wanted]
    ranges: list[DeadlineRange] = []
    for kind in ordered:
        current = deadline_range(kind, now, risk_window)
        if ranges and ranges[-1].until is not None and ranges[-1].until == current.after:
            ranges[-1] = DeadlineRange(ranges[-1].after, current.until)
        else:
            ranges.append(current)
    return ranges
