"""The warehouse's work list: open shipments of one kind in dispatch-deadline order, and their
counts per kind and urgency.

Both read the partial index ``ix_shipments_work (kind, dispatch_deadline, id) WHERE status IN
(open statuses)``: the status predicate below is the index's, word for word, so the planner
can use it; the page is a keyset on ``(dispatch_deadline, id)``. Urgency is a deadline range
(``app.domain.work_list``): the SQL compares timestamps and restates no rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from app.domain.work_list import DeadlineRange
from app.storage.shipments import OPEN_STATUSES, SHIPMENT_COLUMNS

OPEN_WORK = f"s.status IN ({OPEN_STATUSES})"
"""The predicate of ``ix_shipments_work`` (migration 0010), in its order."""


class _Args:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _in_range(bounds: DeadlineRange, arg: _Args) -> str:
    parts = []
    if bounds.after is not None:
        parts.append(f"s.dispatch_deadline > {arg(bounds.after)}")
    if bounds.until is not None:
        parts.append(f"s.dispatch_deadline <= {arg(bounds.until)}")
    return " AND ".join(parts) or "TRUE"


def _in_ranges(ranges: Sequence[DeadlineRange], arg: _Args) -> str:
    if not ranges:
        return "FALSE"
    return "(" + " OR ".join(f"({_in_range(r, arg)})" for r in ranges) + ")"


def _where(
    kind: str, ranges: Sequence[DeadlineRange], channel: str | None, arg: _Args
) -> list[str]:
    where = [f"s.kind = {arg(kind)}", OPEN_WORK, _in_ranges(ranges, arg)]
    if channel is not None:
        where.append(f"s.channel_code = {arg(channel)}")
    return where


async def work_list(
    conn: asyncpg.Connection,
    kind: str,
    ranges: Sequence[DeadlineRange],
    channel: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Open shipments of ``kind`` whose deadline is in one of ``ranges`` (``channel``: only
    its own), by deadline then id, after the keyset ``after``."""
    arg = _Args()
    where = _where(kind, ranges, channel, arg)
    if after is not None:
        where.append(f"(s.dispatch_deadline, s.id) > ({arg(after[0])}, {arg(after[1])})")
    sql = (
        f"SELECT {SHIPMENT_COLUMNS} FROM shipments s WHERE {' AND '.join(where)} "
        f"ORDER BY s.dispatch_deadline, s.id LIMIT {arg(limit)}"
    )
    return list(await conn.fetch(sql, *arg.values))


async def count_work(
    conn: asyncpg.Connection, kind: str, ranges: Sequence[DeadlineRange], channel: str | None
) -> int:
    arg = _Args()
    where = _where(kind, ranges, channel, arg)
    return int(
        await conn.fetchval(
            f"SELECT count(*) FROM shipments s WHERE {' AND '.join(where)}", *arg.values
        )
    )


async def counts(
    conn: asyncpg.Connection,
    on_time: DeadlineRange,
    at_risk: DeadlineRange,
    breached: DeadlineRange,
    channel: str | None,
) -> list[asyncpg.Record]:
    """Per kind with open work, in one statement: open, on time, at risk, breached (held ones
    included: a held shipment still has its deadline) and on hold."""
    arg = _Args()
    filters = {
        "on_time": _in_range(on_time, arg),
        "at_risk": _in_range(at_risk, arg),
        "breached": _in_range(breached, arg),
    }
    where = [OPEN_WORK]
    if channel is not None:
        where.append(f"s.channel_code = {arg(channel)}")
    counted = ", ".join(
        f"count(*) FILTER (WHERE {cond}) AS {name}" for name, cond in filters.items()
    )
    sql = (
        f"SELECT s.kind, count(*) AS open, {counted}, "
        "count(*) FILTER (WHERE s.status = 'ON_HOLD') AS on_hold "
        f"FROM shipments s WHERE {' AND '.join(where)} GROUP BY s.kind"
    )
    return list(await conn.fetch(sql, *arg.values))
