"""Invariant checks: every counter must be derivable from rows.

Each invariant is one set-based statement over all SKUs that returns only the rows breaking
it, so a healthy database costs a handful of scans and returns nothing. The checks only read;
``repair_committed`` is the one write here and runs only when asked (``check-invariants
--repair``). See ``docs/invariants.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.events import EventKind

ERROR = "error"
WARNING = "warning"

OPEN_LINE_STATUSES = ("RESERVED", "WAITING", "ALLOCATED")
"""Line statuses that hold units in the pool they were drawn from (ALLOCATED: future use)."""

COUNTED_POOL_KINDS = ("CHANNEL", "READY", "PRE_ORDER", "BACKORDER")
"""Pools whose ``committed`` is the sum of open order lines, in the pool lock order."""

SINGLE_POOL_KINDS = ("READY", "PRE_ORDER", "BACKORDER", "RESERVED")
"""Every product has exactly one pool of each of these kinds."""

_OPEN = ", ".join(f"'{s}'" for s in OPEN_LINE_STATUSES)
_COUNTED = ", ".join(f"'{k}'" for k in COUNTED_POOL_KINDS)
_SINGLE = ", ".join(f"('{k}')" for k in SINGLE_POOL_KINDS)


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which check, for which SKU, what was expected and found.

    ``sku`` is None for order-level checks (the order number is in ``detail``). ``severity``
    is ``"error"`` (data is wrong) or ``"warning"`` (legal but worth a look, e.g. a channel
    hold lowered below what that channel already sold).
    """

    check: str
    sku: str | None
    detail: str
    expected: int | None
    actual: int | None
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return (
            f"{self.severity.upper()} {self.check} {self.sku or '-'}: {self.detail} "
            f"(expected {_show(self.expected)}, actual {_show(self.actual)})"
        )


def _show(value: int | None) -> str:
    return "none" if value is None else str(value)


def _pool_name(kind: str, channel: str | None, pool_id: int | None) -> str:
    name = f"CHANNEL[{channel}]" if kind == "CHANNEL" else kind
    return f"{name} pool #{pool_id}" if pool_id is not None else f"{name} pool"


# ---------------------------------------------------------------- (a) committed = open lines

POOL_COMMITTED_SQL = f"""
WITH drawn AS (
    SELECT product_id, pool_kind AS kind, pool_channel AS channel,
           SUM(quantity)::bigint AS units, COUNT(*)::int AS lines
    FROM order_lines
    WHERE status IN ({_OPEN})
    GROUP BY product_id, pool_kind, pool_channel
), pools AS (
    SELECT id, product_id, kind, channel_code AS channel, committed
    FROM inventory_pools
    WHERE kind IN ({_COUNTED})
)
SELECT pr.sku, COALESCE(pl.kind, d.kind) AS kind, COALESCE(pl.channel, d.channel) AS channel,
       pl.id AS pool_id, COALESCE(d.units, 0) AS expected, pl.committed AS actual,
       COALESCE(d.lines, 0) AS lines
FROM pools pl
FULL JOIN drawn d
       ON d.product_id = pl.product_id AND d.kind = pl.kind
      AND COALESCE(d.channel, '') = COALESCE(pl.channel, '')
JOIN products pr ON pr.id = COALESCE(pl.product_id, d.product_id)
WHERE pl.id IS NULL OR pl.committed <> COALESCE(d.units, 0)
ORDER BY pr.sku, 2, 3
"""


def _pool_committed(row: asyncpg.Record) -> Violation:
    pool = _pool_name(row["kind"], row["channel"], row["pool_id"])
    if row["pool_id"] is None:
        detail = f"{row['lines']} open line(s) draw {row['expected']} units from a missing {pool}"
    else:
        detail = (
            f"{pool} committed {row['actual']}, but its {row['lines']} open line(s) "
            f"({'/'.join(OPEN_LINE_STATUSES)}) hold {row['expected']}"
        )
    return Violation("pool_committed", row["sku"], detail, row["expected"], row["actual"])


# ---------------------------------------------------------------- (b) bounds of each counter

POOL_BOUNDS_SQL = f"""
SELECT pr.sku, ip.id AS pool_id, ip.kind, ip.channel_code AS channel,
       v.name, v.severity, v.expected, v.actual
FROM inventory_pools ip
JOIN products pr ON pr.id = ip.product_id
CROSS JOIN LATERAL (VALUES
    ('pool_committed_negative', '{ERROR}', 0, ip.committed, ip.committed < 0),
    ('pool_capacity_negative', '{ERROR}', 0, ip.capacity, ip.capacity < 0),
    ('pool_over_capacity', '{ERROR}', ip.capacity, ip.committed,
        ip.kind IN ('PRE_ORDER', 'BACKORDER') AND ip.committed > ip.capacity),
    ('channel_over_hold', '{WARNING}', ip.capacity, ip.committed,
        ip.kind = 'CHANNEL' AND ip.committed > ip.capacity),
    ('ready_oversold', '{WARNING}', ip.capacity, ip.committed,
        ip.kind = 'READY' AND ip.committed > ip.capacity)
) AS v(name, severity, expected, actual, failed)
WHERE v.failed
ORDER BY pr.sku, ip.id, v.name
"""

_BOUND_TEXT = {
    "pool_committed_negative": "committed {actual} is below 0",
    "pool_capacity_negative": "capacity {actual} is below 0",
    "pool_over_capacity": "committed {actual} exceeds the cap {expected}",
    "channel_over_hold": (
        "committed {actual} exceeds the hold {expected} (hold lowered after sales: the "
        "excess stays set aside until those lines close)"
    ),
    "ready_oversold": (
        "committed {actual} exceeds the shared READY capacity {expected} (stock shrank after sales)"
    ),
}


def _pool_bounds(row: asyncpg.Record) -> Violation:
    pool = _pool_name(row["kind"], row["channel"], row["pool_id"])
    detail = f"{pool} " + _BOUND_TEXT[row["name"]].format(
        actual=row["actual"], expected=row["expected"]
    )
    return Violation(
        row["name"], row["sku"], detail, row["expected"], row["actual"], row["severity"]
    )


# ---------------------------------------------------------------- (c) derived capacities

# RECOMPUTE_READY_SQL (app/storage/inventory.py) for every product at once, as a pure read:
# sellable = on hand - safety stock - RESERVED; channel holds are clamped in pool id order to
# the sellable stock left after the holds before them; READY = sellable - what the holds set
# aside (a hold's capacity, or what its channel already sold when that is more), clamped at 0.
_DERIVED_CAPACITY_CTES = """
WITH stock AS (
    SELECT product_id, SUM(on_hand) AS on_hand FROM stock_levels GROUP BY product_id
), reserved AS (
    SELECT product_id, SUM(committed) AS units FROM inventory_pools
    WHERE kind = 'RESERVED' GROUP BY product_id
), base AS (
    SELECT p.id AS product_id, p.sku,
           GREATEST(0, COALESCE(s.on_hand, 0) - p.safety_stock
                       - COALESCE(r.units, 0))::int AS sellable
    FROM products p
    LEFT JOIN stock s ON s.product_id = p.id
    LEFT JOIN reserved r ON r.product_id = p.id
), targets AS (
    SELECT c.id, c.product_id, c.channel_code, c.capacity, c.committed, b.sellable,
           CASE WHEN c.share_percent IS NOT NULL
                THEN floor(b.sellable * c.share_percent / 100)::int
                ELSE COALESCE(c.fixed_quantity, 0) END AS target
    FROM inventory_pools c JOIN base b ON b.product_id = c.product_id
    WHERE c.kind = 'CHANNEL'
), clamped AS (
    SELECT t.*,
           LEAST(t.target, GREATEST(0, t.sellable - COALESCE(SUM(t.target) OVER (
               PARTITION BY t.product_id ORDER BY t.id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))::int AS expected_cap
    FROM targets t
), set_aside AS (
    SELECT product_id, SUM(GREATEST(expected_cap, committed)) AS units
    FROM clamped GROUP BY product_id
)
"""

READY_CAPACITY_SQL = (
    _DERIVED_CAPACITY_CTES
    + """
SELECT b.sku, r.id AS pool_id, b.sellable, COALESCE(sa.units, 0)::bigint AS set_aside,
       GREATEST(0, b.sellable - COALESCE(sa.units, 0))::int AS expected,
       r.capacity AS actual
FROM base b
JOIN inventory_pools r ON r.product_id = b.product_id AND r.kind = 'READY'
LEFT JOIN set_aside sa ON sa.product_id = b.product_id
WHERE r.capacity IS DISTINCT FROM GREATEST(0, b.sellable - COALESCE(sa.units, 0))::int
ORDER BY b.sku, r.id
"""
)


def _ready_capacity(row: asyncpg.Record) -> Violation:
    detail = (
        f"READY pool #{row['pool_id']} capacity {_show(row['actual'])}, but sellable "
        f"{row['sellable']} less {row['set_aside']} set aside for channels is "
        f"{row['expected']} (stale: recomputed only on stock, safety-stock and hold changes)"
    )
    return Violation("ready_capacity", row["sku"], detail, row["expected"], row["actual"])


CHANNEL_CAPACITY_SQL = (
    _DERIVED_CAPACITY_CTES
    + """
SELECT b.sku, c.id AS pool_id, c.channel_code AS channel, c.target,
       c.expected_cap AS expected, c.capacity AS actual
FROM clamped c JOIN base b ON b.product_id = c.product_id
WHERE c.capacity IS DISTINCT FROM c.expected_cap
ORDER BY b.sku, c.id
"""
)


def _channel_capacity(row: asyncpg.Record) -> Violation:
    pool = _pool_name("CHANNEL", row["channel"], row["pool_id"])
    detail = (
        f"{pool} capacity {_show(row['actual'])}, but its hold of {row['target']} clamped "
        f"to the sellable stock left is {row['expected']}"
    )
    return Violation("channel_capacity", row["sku"], detail, row["expected"], row["actual"])


# ---------------------------------------------------------------- (d) one pool of each kind

POOL_SET_SQL = f"""
SELECT p.sku, k.kind, COUNT(ip.id)::int AS pools
FROM products p
CROSS JOIN (VALUES {_SINGLE}) AS k(kind)
LEFT JOIN inventory_pools ip ON ip.product_id = p.id AND ip.kind = k.kind
GROUP BY p.sku, k.kind
HAVING COUNT(ip.id) <> 1
ORDER BY p.sku, k.kind
"""


def _pool_set(row: asyncpg.Record) -> Violation:
    detail = f"{row['pools']} {row['kind']} pools; every product has exactly one"
    return Violation("pool_set", row["sku"], detail, 1, row["pools"])


# ---------------------------------------------------------------- (e) the stock ledger

# The stock ledger is the ``stock.moved`` events of the event ledger.
STOCK_MOVEMENTS = f"""
SELECT e.id, p.id AS product_id, e.payload->>'location' AS location_code,
       (e.payload->>'delta')::int AS delta, (e.payload->>'onHandAfter')::int AS on_hand_after
FROM events e JOIN products p ON p.sku = e.subject_id
WHERE e.order_id IS NULL AND e.subject = 'SKU' AND e.kind = '{EventKind.STOCK_MOVED.value}'
"""

STOCK_LEDGER_SQL = f"""
WITH ledger AS (
    SELECT product_id, location_code, SUM(delta)::bigint AS total, COUNT(*)::int AS movements
    FROM ({STOCK_MOVEMENTS}) m
    GROUP BY product_id, location_code
)
SELECT p.sku, l.location_code, l.total AS expected, s.on_hand AS actual, l.movements
FROM ledger l
JOIN products p ON p.id = l.product_id
LEFT JOIN stock_levels s
       ON s.product_id = l.product_id AND s.location_code = l.location_code
WHERE s.on_hand IS DISTINCT FROM l.total
ORDER BY p.sku, l.location_code
"""


def _stock_ledger(row: asyncpg.Record) -> Violation:
    level = "no stock level row" if row["actual"] is None else f"on hand {row['actual']}"
    detail = (
        f"at {row['location_code']}: {level}, but its {row['movements']} stock movement(s) "
        f"add up to {row['expected']}"
    )
    return Violation("stock_ledger", row["sku"], detail, row["expected"], row["actual"])


STOCK_MOVEMENT_AFTER_SQL = f"""
SELECT p.sku, m.id, m.location_code, m.expected, m.on_hand_after AS actual
FROM (
    SELECT id, product_id, location_code, on_hand_after,
           SUM(delta) OVER (PARTITION BY product_id, location_code ORDER BY id)::bigint
               AS expected
    FROM ({STOCK_MOVEMENTS}) sm
) m
JOIN products p ON p.id = m.product_id
WHERE m.on_hand_after <> m.expected
ORDER BY p.sku, m.id
"""


def _stock_movement_after(row: asyncpg.Record) -> Violation:
    detail = (
        f"stock movement #{row['id']} at {row['location_code']} says on hand {row['actual']} "
        f"after it, but the deltas up to it add up to {row['expected']}"
    )
    return Violation("stock_movement_after", row["sku"], detail, row["expected"], row["actual"])


# ---------------------------------------------------------------- (f) order totals

ORDER_TOTAL_SQL = """
SELECT o.number, o.total_minor AS actual,
       COALESCE(SUM(l.quantity::bigint * l.unit_price_minor), 0)::bigint AS expected,
       COUNT(l.id)::int AS lines
FROM orders o
LEFT JOIN order_lines l ON l.order_id = o.id
GROUP BY o.id, o.number, o.total_minor
HAVING o.total_minor <> COALESCE(SUM(l.quantity::bigint * l.unit_price_minor), 0)
ORDER BY o.number
"""


def _order_total(row: asyncpg.Record) -> Violation:
    detail = (
        f"order {row['number']} total_minor {row['actual']}, but its {row['lines']} line(s) "
        f"add up to {row['expected']} (quantity x unit price, cancelled lines included)"
    )
    return Violation("order_total", None, detail, row["expected"], row["actual"])


# ---------------------------------------------------------------- running the checks


# ---------------------------------------------------------------- (g) ring-fenced units

RESERVED_COMMITTED_SQL = f"""
WITH held AS (
    SELECT product_id, SUM(allocated)::bigint AS units, COUNT(*)::int AS lines
    FROM order_lines WHERE status IN ({_OPEN}) AND allocated > 0
    GROUP BY product_id
)
SELECT p.sku, ip.id AS pool_id, COALESCE(h.units, 0) AS expected, ip.committed AS actual,
       COALESCE(h.lines, 0) AS lines
FROM inventory_pools ip
JOIN products p ON p.id = ip.product_id
LEFT JOIN held h ON h.product_id = ip.product_id
WHERE ip.kind = 'RESERVED' AND ip.committed <> COALESCE(h.units, 0)
ORDER BY p.sku
"""


def _reserved_committed(row: asyncpg.Record) -> Violation:
    detail = (
        f"RESERVED pool #{row['pool_id']} committed {row['actual']}, but its "
        f"{row['lines']} open line(s) hold {row['expected']} ring-fenced units"
    )
    return Violation("reserved_committed", row["sku"], detail, row["expected"], row["actual"])


RESERVED_ON_HAND_SQL = """
WITH stock AS (
    SELECT product_id, SUM(on_hand) AS on_hand FROM stock_levels GROUP BY product_id
)
SELECT p.sku, ip.id AS pool_id, COALESCE(s.on_hand, 0)::int AS expected,
       ip.committed AS actual
FROM inventory_pools ip
JOIN products p ON p.id = ip.product_id
LEFT JOIN stock s ON s.product_id = ip.product_id
WHERE ip.kind = 'RESERVED' AND ip.committed > COALESCE(s.on_hand, 0)
ORDER BY p.sku
"""


def _reserved_on_hand(row: asyncpg.Record) -> Violation:
    detail = (
        f"RESERVED pool #{row['pool_id']} holds {row['actual']} ring-fenced units, but only "
        f"{row['expected']} are on hand (all locations): those lines cannot all ship"
    )
    return Violation("reserved_above_on_hand", row["sku"], detail, row["expected"], row["actual"])


ALLOCATION_LEDGER_SQL = """
WITH ledger AS (
    SELECT line_id, SUM(quantity)::bigint AS units FROM allocations GROUP BY line_id
)
SELECT p.sku, l.id AS line_id, COALESCE(g.units, 0) AS expected, l.allocated AS actual
FROM order_lines l
JOIN products p ON p.id = l.product_id
LEFT JOIN ledger g ON g.line_id = l.id
WHERE l.allocated <> COALESCE(g.units, 0)
ORDER BY p.sku, l.id
"""


def _allocation_ledger(row: asyncpg.Record) -> Violation:
    detail = (
        f"line {row['line_id']} has {row['actual']} units allocated, but its allocation "
        f"rows add up to {row['expected']}"
    )
    return Violation("allocation_ledger", row["sku"], detail, row["expected"], row["actual"])


# ---------------------------------------------------------------- (h) shipments and their lines

# A line's shipment (``order_lines.shipment_id``) says where it is: an open shipment holds
# open, unpaused lines that may ship (RESERVED, ALLOCATED); a dispatched one shipped lines; a
# delivered one delivered lines; a cancelled one none (its ``shipment_lines`` are history).
SHIPMENT_LINES_SQL = """
SELECT p.sku, s.number, s.status AS shipment_status, l.id AS line_id, l.status AS line_status,
       l.paused_at IS NOT NULL AS paused, l.delivered_on IS NOT NULL AS delivered
FROM order_lines l
JOIN shipments s ON s.id = l.shipment_id
JOIN products p ON p.id = l.product_id
WHERE CASE
    WHEN s.status = 'CANCELLED' THEN true
    WHEN s.status = 'DISPATCHED' THEN l.status <> 'SHIPPED'
    WHEN s.status = 'DELIVERED' THEN l.status <> 'SHIPPED' OR l.delivered_on IS NULL
    ELSE l.status NOT IN ('RESERVED', 'ALLOCATED') OR l.paused_at IS NOT NULL
END
ORDER BY p.sku, l.id
"""


def _shipment_lines(row: asyncpg.Record) -> Violation:
    state = row["line_status"]
    if row["paused"]:
        state += " (paused)"
    if row["shipment_status"] == "DELIVERED" and not row["delivered"]:
        state += " (no delivery date)"
    detail = (
        f"line {row['line_id']} is {state} in shipment {row['number']}, "
        f"which is {row['shipment_status']}"
    )
    return Violation("shipment_lines", row["sku"], detail, None, None)


# ---------------------------------------------------------------- (i) shipments' own records

# A line's current shipment (``order_lines.shipment_id``) lists it in ``shipment_lines`` (the
# history every pick list, merge and dispatch reads); a shipment's dates follow its status.
SHIPMENT_RECORDS_SQL = """
SELECT p.sku, s.number, 'line ' || l.id || ' is in it but not in its shipment_lines' AS problem
FROM order_lines l
JOIN shipments s ON s.id = l.shipment_id
JOIN products p ON p.id = l.product_id
WHERE NOT EXISTS (
    SELECT 1 FROM shipment_lines sl WHERE sl.shipment_id = l.shipment_id AND sl.line_id = l.id)
UNION ALL
SELECT '' AS sku, s.number, s.status || ' without ' || CASE
    WHEN s.status IN ('DISPATCHED', 'DELIVERED') AND s.dispatched_at IS NULL THEN 'dispatched_at'
    WHEN s.status = 'DELIVERED' AND s.delivered_on IS NULL THEN 'delivered_on'
    ELSE 'cancelled_at' END
FROM shipments s
WHERE (s.status IN ('DISPATCHED', 'DELIVERED') AND s.dispatched_at IS NULL)
   OR (s.status = 'DELIVERED' AND s.delivered_on IS NULL)
   OR (s.status = 'CANCELLED' AND s.cancelled_at IS NULL)
ORDER BY 1, 2
"""


def _shipment_records(row: asyncpg.Record) -> Violation:
    detail = f"shipment {row['number']}: {row['problem']}"
    return Violation("shipment_records", row["sku"] or None, detail, None, None)


# An open shipment with no line left in it (every line cancelled, released or moved) is work
# on the fulfilment list that ships nothing: allowed until the next OPEN_SHIPMENTS round
# cancels it, worth a look when it stays (untouched for an hour).
SHIPMENT_EMPTY_SQL = """
SELECT s.number, s.status
FROM shipments s
WHERE s.status IN ('PICKING', 'PACKED', 'AWAITING_SHIPMENT', 'ON_HOLD')
  AND s.updated_at < now() - interval '1 hour'
  AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.shipment_id = s.id)
ORDER BY s.number
"""


def _shipment_empty(row: asyncpg.Record) -> Violation:
    detail = f"shipment {row['number']} is {row['status']} but holds no line"
    return Violation("shipment_empty", None, detail, None, None, WARNING)


# ---------------------------------------------------------------- (j) ledger and outbox

# Every order has its one ``order.placed`` event in the ledger (written in placement's own
# transaction): the ledger explains every order, and what was derived from it (e-mails,
# subscriptions, webhooks) saw it once.
ORDER_PLACED_EVENT_SQL = """
SELECT o.number, COUNT(e.id)::int AS events
FROM orders o
LEFT JOIN events e ON e.order_id = o.id AND e.kind = 'order.placed'
GROUP BY o.id, o.number
HAVING COUNT(e.id) <> 1
ORDER BY o.number
"""


def _order_placed_event(row: asyncpg.Record) -> Violation:
    detail = f"order {row['number']} has {row['events']} order.placed event(s) in the ledger"
    return Violation("order_placed_event", None, detail, 1, row["events"])


# The notification outbox: each notification is derived from one ledger event (a foreign key
# already) about the same order, and a SENT one says when it went.
NOTIFICATION_OUTBOX_SQL = """
SELECT n.id, n.message_id, n.template, n.status,
       CASE WHEN e.order_id IS NOT NULL AND n.order_id IS DISTINCT FROM e.order_id
            THEN 'its event ' || e.id || ' (' || e.kind || ') is about another order'
            ELSE 'SENT without sent_at' END AS problem
FROM notifications n
JOIN events e ON e.id = n.event_id
WHERE (e.order_id IS NOT NULL AND n.order_id IS DISTINCT FROM e.order_id)
   OR (n.status = 'SENT' AND n.sent_at IS NULL)
ORDER BY n.id
"""


def _notification_outbox(row: asyncpg.Record) -> Violation:
    detail = (
        f"notification {row['id']} ({row['template']}, {row['status']}, {row['message_id']}): "
        f"{row['problem']}"
    )
    return Violation("notification_outbox", None, detail, None, None)


@dataclass(frozen=True)
class Invariant:
    name: str
    sql: str
    to_violation: Callable[[asyncpg.Record], Violation]


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("pool_committed", POOL_COMMITTED_SQL, _pool_committed),
    Invariant("pool_bounds", POOL_BOUNDS_SQL, _pool_bounds),
    Invariant("ready_capacity", READY_CAPACITY_SQL, _ready_capacity),
    Invariant("channel_capacity", CHANNEL_CAPACITY_SQL, _channel_capacity),
    Invariant("pool_set", POOL_SET_SQL, _pool_set),
    Invariant("stock_ledger", STOCK_LEDGER_SQL, _stock_ledger),
    Invariant("stock_movement_after", STOCK_MOVEMENT_AFTER_SQL, _stock_movement_after),
    Invariant("order_total", ORDER_TOTAL_SQL, _order_total),
    Invariant("reserved_committed", RESERVED_COMMITTED_SQL, _reserved_committed),
    Invariant("reserved_above_on_hand", RESERVED_ON_HAND_SQL, _reserved_on_hand),
    Invariant("allocation_ledger", ALLOCATION_LEDGER_SQL, _allocation_ledger),
    Invariant("shipment_lines", SHIPMENT_LINES_SQL, _shipment_lines),
    Invariant("shipment_records", SHIPMENT_RECORDS_SQL, _shipment_records),
    Invariant("shipment_empty", SHIPMENT_EMPTY_SQL, _shipment_empty),
    Invariant("order_placed_event", ORDER_PLACED_EVENT_SQL, _order_placed_event),
    Invariant("notification_outbox", NOTIFICATION_OUTBOX_SQL, _notification_outbox),
)


async def find_violations(
    conn: asyncpg.Connection, invariants: Sequence[Invariant] = INVARIANTS
) -> list[Violation]:
    """Run every check (one statement each); run inside one snapshot for a consistent view."""
    violations: list[Violation] = []
    for invariant in invariants:
        rows = await conn.fetch(invariant.sql)
        violations.extend(invariant.to_violation(row) for row in rows)
    return violations


# ---------------------------------------------------------------- repair (explicit only)


@dataclass(frozen=True)
class PoolRepair:
    pool_id: int
    product_id: uuid.UUID
    sku: str
    kind: str
    channel: str | None
    before: int
    after: int


DRIFTED_POOLS_SQL = f"""
WITH drawn AS (
    SELECT product_id, pool_kind AS kind, pool_channel AS channel, SUM(quantity) AS units
    FROM order_lines
    WHERE status IN ({_OPEN})
    GROUP BY product_id, pool_kind, pool_channel
)
SELECT ip.id
FROM inventory_pools ip
JOIN products p ON p.id = ip.product_id
LEFT JOIN drawn d
       ON d.product_id = ip.product_id AND d.kind = ip.kind
      AND d.channel IS NOT DISTINCT FROM ip.channel_code
WHERE ip.kind IN ({_COUNTED}) AND ip.committed <> COALESCE(d.units, 0)
"""

# The same order placement takes pool rows in (Python's code-point order of SKUs, then
# CHANNEL → READY → PRE_ORDER → BACKORDER); COLLATE "C" is code-point order for UTF-8.
LOCK_POOLS_SQL = """
SELECT ip.id
FROM inventory_pools ip
JOIN products p ON p.id = ip.product_id
WHERE ip.id = ANY($1::bigint[])
ORDER BY p.sku COLLATE "C",
         array_position(ARRAY['CHANNEL', 'READY', 'PRE_ORDER', 'BACKORDER']::text[],
                        ip.kind::text),
         ip.id
FOR NO KEY UPDATE OF ip
"""

REPAIR_KIND_SQL = f"""
WITH drawn AS (
    SELECT product_id, pool_channel AS channel, SUM(quantity) AS units
    FROM order_lines
    WHERE status IN ({_OPEN}) AND pool_kind = $1
    GROUP BY product_id, pool_channel
), target AS (
    SELECT ip.id, ip.committed AS before, COALESCE(d.units, 0)::int AS after
    FROM inventory_pools ip
    LEFT JOIN drawn d
           ON d.product_id = ip.product_id AND d.channel IS NOT DISTINCT FROM ip.channel_code
    WHERE ip.kind = $1 AND ip.id = ANY($2::bigint[])
)
UPDATE inventory_pools ip
SET committed = t.after, updated_at = now()
FROM target t, products p
WHERE ip.id = t.id AND p.id = ip.product_id AND t.before <> t.after
  AND (ip.kind IN ('READY', 'CHANNEL') OR ip.capacity IS NULL OR t.after <= ip.capacity)
RETURNING ip.id, ip.product_id, p.sku, ip.kind, ip.channel_code, t.before, t.after
"""


async def repair_committed(conn: asyncpg.Connection) -> list[PoolRepair]:
    """Set each drifted pool's ``committed`` to the sum of its open lines; one UPDATE per kind.

    Only pools found drifted are locked, in placement's lock order. Placement and
    cancellation change lines first and the counter last, relatively (``committed ± q``), so
    once a pool row is locked the lines committed so far explain it exactly; lines of a
    transaction still in flight are applied by that transaction after this one commits.
    A PRE_ORDER or BACKORDER pool whose lines exceed its cap is left as it is (the check
    keeps reporting it): the cap constraint forbids that counter.
    """
    drifted = [int(r[0]) for r in await conn.fetch(DRIFTED_POOLS_SQL)]
    if not drifted:
        return []
    ids = [int(r[0]) for r in await conn.fetch(LOCK_POOLS_SQL, drifted)]
    repairs: list[PoolRepair] = []
    for kind in COUNTED_POOL_KINDS:
        rows = await conn.fetch(REPAIR_KIND_SQL, kind, ids)
        repairs.extend(_repair(row) for row in rows)
    return sorted(repairs, key=lambda r: (r.sku, r.pool_id))


def _repair(row: Any) -> PoolRepair:
    return PoolRepair(
        pool_id=int(row["id"]),
        product_id=row["product_id"],
        sku=row["sku"],
        kind=row["kind"],
        channel=row["channel_code"],
        before=int(row["before"]),
        after=int(row["after"]),
    )


__all__ = [
    "ERROR",
    "INVARIANTS",
    "WARNING",
    "Invariant",
    "PoolRepair",
    "Violation",
    "find_violations",
    "repair_committed",
]
