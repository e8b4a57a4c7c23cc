"""The waiting queue after placement: pause and resume, delay consent, the pre-order release,
dispatch (with the payment captured then) and delivery, and promise accuracy.

Every use case here that touches a SKU's queue locks the SKU's pool rows first (the global
lock order), changes the lines, and ends with ``settle``: free units go to the next eligible
lines in queue order, READY is recomputed, promises follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import asyncpg

from app.domain.estimates import Accuracy, promise_accuracy
from app.domain.placement import PaymentKind
from app.services.allocation import settle
from app.services.container import Services
from app.services.orders import GatewayJournal, cancel, token_matches
from app.services.payments import LedgerGateway, PaymentGateway
from app.services.results import Actor, Result
from app.storage import orders as store
from app.storage.allocation import lock_pools, unallocate


class QueueErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    NOTHING_TO_PAUSE = "NOTHING_TO_PAUSE"
    NOTHING_TO_RESUME = "NOTHING_TO_RESUME"
    NO_DELAY_PENDING = "NO_DELAY_PENDING"
    NOT_DISPATCHABLE = "NOT_DISPATCHABLE"
    NOT_DELIVERABLE = "NOT_DELIVERABLE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    UNKNOWN_LOCATION = "UNKNOWN_LOCATION"
    INVALID_DATE = "INVALID_DATE"
    INVALID = "INVALID"


E = QueueErrorCode


def may_manage(actor: Actor, channel_code: str) -> bool:
    return actor.has_scope("ops") or actor.has_scope(f"channel:{channel_code}")


@dataclass(frozen=True)
class Changed:
    order_id: Any
    lines: int


LINES_SQL = """
SELECT l.id, l.sku, l.product_id, l.quantity, l.allocated, l.state, l.status, l.pool_kind,
       l.pool_channel, l.paused_at, l.unit_price_minor, l.payment_terms, l.delay_consent,
       l.shipped_at, l.delivered_on, p.release_date, p.preorder_enabled
FROM order_lines l JOIN products p ON p.id = l.product_id
WHERE l.order_id = $1 AND ($2::bigint IS NULL OR l.id = $2)
ORDER BY l.id
"""


async def _order_and_lines(
    conn: asyncpg.Connection, actor: Actor, order_id: Any, line_id: int | None
) -> tuple[Any, list[Any]] | None:
    order = await conn.fetchrow(
        # NO KEY: allocation under the pool locks inserts order events, whose foreign key
        # share-locks this row; FOR UPDATE here, then the pool locks, would deadlock with it.
        "SELECT id, number, status, channel_code, currency, token_hash FROM orders "
        "WHERE id = $1 FOR NO KEY UPDATE",
        order_id,
    )
    if order is None or not may_manage(actor, order["channel_code"]):
        return None
    lines = await conn.fetch(LINES_SQL, order_id, line_id)
    if line_id is not None and not lines:
        return None
    return order, list(lines)


def _chosen(lines: list[Any], line_ids: list[int] | None) -> list[Any] | None:
    """The order's lines a request names (all when it names none); None when it names a
    line that is not on the order."""
    if not line_ids:
        return lines
    wanted = set(line_ids)
    if not wanted <= {line["id"] for line in lines}:
        return None
    return [line for line in lines if line["id"] in wanted]


# ---------------------------------------------------------------- pause / resume


async def set_paused(
    services: Services, actor: Actor, order_id: Any, line_id: int | None, paused: bool
) -> Result[Changed]:
    """Pause: the line keeps its place in the queue but is skipped by allocation; its
    ring-fenced units go to the next in line unless ``OMS_PAUSE_KEEPS_ALLOCATION``. Resume:
    it is served again at its original position for the next units."""
    async with services.raw_uow() as uow:
        conn = uow.conn
        found = await _order_and_lines(conn, actor, order_id, line_id)
        if found is None:
            return Result.fail(E.NOT_FOUND, "No such order or line.", "input", "id")
        _order, lines = found
        targets = [
            line
            for line in lines
            if line["state"] != "READY"
            and line["status"] in ("WAITING", "ALLOCATED")
            and (line["paused_at"] is None) == paused
        ]
        if not targets:
            code = E.NOTHING_TO_PAUSE if paused else E.NOTHING_TO_RESUME
            what = "waiting lines to pause" if paused else "paused lines to resume"
            return Result.fail(code, f"No {what}.", "input", "lineId" if line_id else "id")
        product_ids = sorted({line["product_id"] for line in targets})
        await lock_pools(conn, product_ids)
        ids = [line["id"] for line in targets]
        now = services.now()
        await conn.execute(
            "UPDATE order_lines SET paused_at = $2, updated_at = now() "
            "WHERE id = ANY($1::bigint[])",
            ids,
            now if paused else None,
        )
        action = "line.paused" if paused else "line.resumed"
        await store.insert_events(
            conn,
            order_id,
            [
                (
                    line["id"],
                    action,
                    actor.name,
                    {"paused": not paused, "allocated": line["allocated"]},
                    {"paused": paused},
                )
                for line in targets
            ],
        )
        if paused and not services.settings.pause_keeps_allocation:
            # every target: ``allocated`` was read before the pool locks and a receipt may
            # have allocated to the line since (the statement reads it afresh, skips 0)
            await unallocate(conn, ids, "PAUSE", actor.name)
        await settle(conn, services, product_ids, "PAUSE" if paused else "RESUME", actor.name)
        await uow.commit()
    return Result(Changed(order_id, len(targets)))


# ---------------------------------------------------------------- delay consent


async def respond_to_delay(
    services: Services,
    actor: Actor,
    line_id: int,
    decision: str,
    order_token: str | None = None,
    gateway: PaymentGateway | None = None,
) -> Result[Changed]:
    """The customer's answer to a delay beyond the threshold: ACCEPT keeps the line (its
    place and its payment); CANCEL cancels it and refunds or voids through the ledger."""
    if decision not in ("ACCEPT", "CANCEL"):
        return Result.fail(E.INVALID, "ACCEPT or CANCEL.", "input", "decision")
    async with services.raw_uow() as uow:
        conn = uow.conn
        row = await conn.fetchrow(
            "SELECT l.id, l.order_id, l.delay_consent, o.channel_code, o.token_hash "
            "FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.id = $1 "
            "FOR UPDATE OF l",
            line_id,
        )
        allowed = row is not None and (
            may_manage(actor, row["channel_code"])
            or (actor.has_scope("storefront") and token_matches(row, order_token))
        )
        if row is None or not allowed:
            return Result.fail(E.NOT_FOUND, "No such order line.", "input", "orderLineId")
        if row["delay_consent"] != "REQUESTED":
            return Result.fail(
                E.NO_DELAY_PENDING,
                "This line has no delay waiting for an answer.",
                "input",
                "orderLineId",
            )
        if decision == "ACCEPT":
            await conn.execute(
                "UPDATE order_lines SET delay_consent = 'ACCEPTED', updated_at = now() "
                "WHERE id = $1",
                line_id,
            )
            await store.insert_events(
                conn,
                row["order_id"],
                [
                    (
                        line_id,
                        "line.delay_accepted",
                        actor.name,
                        {"delayConsent": "REQUESTED"},
                        {"delayConsent": "ACCEPTED"},
                    )
                ],
            )
            await uow.commit()
            return Result(Changed(row["order_id"], 1))
    result = await cancel(
        services,
        actor,
        row["order_id"],
        line_id,
        "customer declined the delay",
        gateway,
        delay_consent="CANCELLED",
        as_owner=True,
    )
    if not result.ok:
        return Result(errors=result.errors)
    return Result(Changed(row["order_id"], 1))


EXPIRED_CONSENTS_SQL = """
SELECT l.id, l.order_id,
       -- is the line still later than the threshold after its first promise?
       COALESCE(l.promised_latest IS NULL OR l.promised_latest > fp.latest + $2::int, true)
           AS still_delayed
FROM order_lines l
LEFT JOIN LATERAL (SELECT lp.latest FROM line_promises lp WHERE lp.line_id = l.id
                   ORDER BY lp.id LIMIT 1) fp ON true
WHERE l.delay_consent = 'REQUESTED' AND l.consent_due_at <= $1
  AND l.status IN ('WAITING', 'ALLOCATED')
ORDER BY l.consent_due_at, l.id
LIMIT 500
FOR UPDATE OF l SKIP LOCKED
"""


async def expire_delay_consents(services: Services, actor: Actor) -> int:
    """Unanswered delays follow the store's policy (``OMS_DELAY_NO_ANSWER_POLICY``), recorded
    on the line and in its events. A delay that is gone again (the promise is back within the
    threshold of the first one) is accepted whatever the policy: nothing to cancel for."""
    policy = services.settings.delay_no_answer_policy
    async with services.raw_uow() as uow:
        rows = await uow.conn.fetch(
            EXPIRED_CONSENTS_SQL, services.now(), services.settings.delay_consent_days
        )
        accept = [r for r in rows if policy == "ACCEPT" or not r["still_delayed"]]
        for row in accept:
            await uow.conn.execute(
                "UPDATE order_lines SET delay_consent = 'DEFAULT_ACCEPTED', "
                "updated_at = now() WHERE id = $1",
                row["id"],
            )
            await store.insert_events(
                uow.conn,
                row["order_id"],
                [
                    (
                        row["id"],
                        "line.delay_accepted",
                        actor.name,
                        {"delayConsent": "REQUESTED"},
                        {
                            "delayConsent": "DEFAULT_ACCEPTED",
                            "policy": "no answer"
                            if row["still_delayed"]
                            else "no answer; the delay is gone",
                        },
                    )
                ],
            )
        await uow.commit()
    done = len(accept)
    for row in rows:
        if policy == "ACCEPT" or not row["still_delayed"]:
            continue
        result = await cancel(
            services,
            actor,
            row["order_id"],
            row["id"],
            "no answer to the delay: store policy cancels",
            delay_consent="DEFAULT_CANCELLED",
            as_owner=True,
        )
        done += 1 if result.ok else 0
    return done


# ---------------------------------------------------------------- pre-order release

RELEASABLE_SQL = """
SELECT id, sku FROM products
WHERE release_date IS NOT NULL AND release_date <= $1 AND released_at IS NULL
ORDER BY sku
LIMIT 200
FOR NO KEY UPDATE SKIP LOCKED
"""


async def release_preorders(services: Services, actor: Actor) -> list[str]:
    """At the launch date (store time zone) the waiting pre-orders become allocatable: units
    received before the launch (held for them) go to them FIFO, and only then is the SKU
    released for READY sales. Safe with several replicas (``SKIP LOCKED``)."""
    async with services.raw_uow() as uow:
        conn = uow.conn
        rows = await conn.fetch(RELEASABLE_SQL, services.today())
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        await lock_pools(conn, ids)
        await settle(conn, services, ids, "RELEASE", actor.name)
        await conn.execute(
            "UPDATE products SET released_at = now() WHERE id = ANY($1::uuid[])", ids
        )
        await conn.execute(
            """
            WITH lines AS (
                SELECT l.id, l.order_id, l.sku, l.allocated, l.quantity, l.status
                FROM order_lines l
                WHERE l.product_id = ANY($1::uuid[]) AND l.state = 'PRE_ORDER'
                  AND l.status IN ('WAITING', 'ALLOCATED')
            ), ev AS (
                INSERT INTO order_events (order_id, line_id, action, actor, after)
                SELECT order_id, id, 'line.released', $2,
                       jsonb_build_object('sku', sku, 'allocated', allocated,
                                          'quantity', quantity, 'status', status)
                FROM lines
            )
            INSERT INTO outbox_events (topic, aggregate_id, payload)
            SELECT 'PREORDER_RELEASED', p.sku, jsonb_build_object('sku', p.sku)
            FROM products p WHERE p.id = ANY($1::uuid[])
            """,
            ids,
            actor.name,
        )
        await uow.commit()
    return [r["sku"] for r in rows]


# ---------------------------------------------------------------- dispatch and delivery


async def dispatch(
    services: Services,
    actor: Actor,
    order_id: Any,
    line_ids: list[int] | None,
    location: str | None,
    gateway: PaymentGateway | None = None,
) -> Result[Changed]:
    """Ship READY lines and fully allocated released lines: stock leaves the location, the
    units leave their pools, and what is due at dispatch is captured (a deposit's balance,
    an authorization). If the dispatch fails after a capture (a later capture declined, any
    error), the captures already taken are refunded, as at placement."""
    journal = GatewayJournal(gateway or LedgerGateway())
    try:
        return await _dispatch(services, actor, order_id, line_ids, location, journal)
    except BaseException:
        await journal.compensate()
        raise


async def _dispatch(
    services: Services,
    actor: Actor,
    order_id: Any,
    line_ids: list[int] | None,
    location: str | None,
    gateway: PaymentGateway,
) -> Result[Changed]:
    today = services.today()
    async with services.raw_uow() as uow:
        conn = uow.conn
        found = await _order_and_lines(conn, actor, order_id, None)
        if found is None:
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "orderId")
        order, lines = found
        chosen = _chosen(lines, line_ids)
        if chosen is None:
            return Result.fail(E.NOT_FOUND, "A line is not on this order.", "input", "lineIds")
        named = bool(line_ids)

        def shippable(line: Any) -> bool:
            if line["status"] == "RESERVED":
                return True
            released = line["release_date"] is None or line["release_date"] <= today
            return line["status"] == "ALLOCATED" and released and line["paused_at"] is None

        blocked = [line for line in chosen if not shippable(line)]
        if named and blocked:
            return Result.fail(
                E.NOT_DISPATCHABLE,
                f"Line {blocked[0]['id']} is {blocked[0]['status'].lower()} and cannot ship yet.",
                "input",
                "lineIds",
            )
        ship = [line for line in chosen if shippable(line)]
        if not ship:
            return Result.fail(E.NOT_DISPATCHABLE, "Nothing on this order can ship yet.", "input")
        product_ids = sorted({line["product_id"] for line in ship})
        await lock_pools(conn, product_ids)
        for line in ship:
            failure = await _take_stock(conn, line, location, actor, order["number"])
            if failure is not None:
                return failure
        await _release_pools(conn, ship)
        ids = [line["id"] for line in ship]
        await conn.execute(
            "UPDATE order_lines SET status = 'SHIPPED', shipped_at = now(), updated_at = now() "
            "WHERE id = ANY($1::bigint[])",
            ids,
        )
        entries = await _capture_at_dispatch(conn, order_id, ship, order["currency"], gateway)
        await store.insert_payment_entries(conn, order_id, entries)
        events: list[tuple[int | None, str, str, Any, Any]] = [
            (
                line["id"],
                "line.shipped",
                actor.name,
                {"status": line["status"]},
                {"status": "SHIPPED"},
            )
            for line in ship
        ]
        open_left = await conn.fetchval(
            "SELECT count(*) FROM order_lines WHERE order_id = $1 "
            "AND status NOT IN ('SHIPPED', 'CANCELLED')",
            order_id,
        )
        if open_left == 0:
            await conn.execute(
                "UPDATE orders SET status = 'COMPLETED', updated_at = now() WHERE id = $1",
                order_id,
            )
            events.append(
                (
                    None,
                    "order.completed",
                    actor.name,
                    {"status": order["status"]},
                    {"status": "COMPLETED"},
                )
            )
        await store.insert_events(conn, order_id, events)
        await settle(conn, services, product_ids, "DISPATCH", actor.name)
        await uow.commit()
    return Result(Changed(order_id, len(ship)))


async def _take_stock(
    conn: asyncpg.Connection, line: Any, location: str | None, actor: Actor, number: str
) -> Result[Changed] | None:
    row = await conn.fetchrow(
        "SELECT location_code, on_hand FROM stock_levels WHERE product_id = $1 "
        "AND ($2::text IS NULL OR location_code = $2) AND on_hand >= $3 "
        "ORDER BY on_hand DESC, location_code LIMIT 1 FOR UPDATE",
        line["product_id"],
        location,
        line["quantity"],
    )
    if row is None:
        where = f" at {location}" if location else " at any one location"
        return Result.fail(
            E.INSUFFICIENT_STOCK,
            f"Not enough {line['sku']} on hand{where} to ship line {line['id']}.",
            "input",
            "location",
        )
    after = row["on_hand"] - line["quantity"]
    await conn.execute(
        "UPDATE stock_levels SET on_hand = $3 WHERE product_id = $1 AND location_code = $2",
        line["product_id"],
        row["location_code"],
        after,
    )
    await conn.execute(
        "INSERT INTO stock_movements (product_id, location_code, delta, on_hand_after, reason, "
        "note, actor) VALUES ($1, $2, $3, $4, 'SHIPMENT', $5, $6)",
        line["product_id"],
        row["location_code"],
        -line["quantity"],
        after,
        f"order {number} line {line['id']}",
        actor.name,
    )
    return None


async def _release_pools(conn: asyncpg.Connection, lines: list[Any]) -> None:
    """A shipped line leaves the pool it was drawn from and, when ring-fenced, RESERVED."""
    await conn.execute(
        """
        WITH x AS (
            SELECT product_id, pool_kind AS kind, pool_channel AS channel, SUM(q)::int AS units
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[])
                 AS u(product_id, pool_kind, pool_channel, q)
            GROUP BY 1, 2, 3
        )
        UPDATE inventory_pools ip SET committed = ip.committed - x.units, updated_at = now()
        FROM x WHERE ip.product_id = x.product_id AND ip.kind = x.kind
          AND ip.channel_code IS NOT DISTINCT FROM x.channel
        """,
        [line["product_id"] for line in lines]
        + [line["product_id"] for line in lines if line["allocated"]],
        [line["pool_kind"] for line in lines] + ["RESERVED" for line in lines if line["allocated"]],
        [line["pool_channel"] for line in lines] + [None for line in lines if line["allocated"]],
        [line["quantity"] for line in lines]
        + [line["allocated"] for line in lines if line["allocated"]],
    )


async def _capture_at_dispatch(
    conn: asyncpg.Connection,
    order_id: Any,
    lines: list[Any],
    currency: str,
    gateway: PaymentGateway,
) -> list[tuple[int | None, str, int, str, str, str, Any, str | None]]:
    rows = await conn.fetch(
        "SELECT id, line_id, kind, amount_minor, reference FROM payment_entries "
        "WHERE order_id = $1 AND line_id = ANY($2::bigint[]) ORDER BY line_id, id",
        order_id,
        [line["id"] for line in lines],
    )
    by_line: dict[int, list[Any]] = {}
    for row in rows:
        by_line.setdefault(row["line_id"], []).append(row)
    entries: list[tuple[int | None, str, int, str, str, str, Any, str | None]] = []
    for line in lines:
        history = by_line.get(line["id"], [])
        total = int(line["quantity"] * line["unit_price_minor"])
        captured = sum(int(r["amount_minor"]) for r in history if r["kind"] == "CAPTURE")
        auths = [r for r in history if r["kind"] in ("AUTHORIZE", "REAUTHORIZE")]
        live_auth = auths[-1] if auths else None
        if live_auth is not None and any(
            r["kind"] == "VOID" and r["id"] > live_auth["id"] for r in history
        ):
            live_auth = None
        due = total - captured
        if due <= 0:
            continue
        if live_auth is not None:
            amount = min(due, int(live_auth["amount_minor"]))
            result = await gateway.execute(
                PaymentKind.CAPTURE, amount, currency, live_auth["reference"]
            )
            note = f"capture of {live_auth['reference']} at dispatch"
        else:
            amount = due
            result = await gateway.execute(PaymentKind.CAPTURE, amount, currency, None)
            note = "balance captured at dispatch"
        if not result.approved:
            raise PaymentFailed(result.message or "declined")
        entries.append(
            (line["id"], "CAPTURE", amount, currency, gateway.name, result.reference, None, note)
        )
    return entries


class PaymentFailed(Exception):
    pass


async def confirm_delivery(
    services: Services, actor: Actor, order_id: Any, line_ids: list[int] | None, delivered_on: date
) -> Result[Changed]:
    if delivered_on > services.today():
        return Result.fail(
            E.INVALID_DATE, "A delivery date cannot be in the future.", "input", "deliveredOn"
        )
    async with services.raw_uow() as uow:
        conn = uow.conn
        found = await _order_and_lines(conn, actor, order_id, None)
        if found is None:
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "orderId")
        _order, lines = found
        chosen = _chosen(lines, line_ids)
        if chosen is None:
            return Result.fail(E.NOT_FOUND, "A line is not on this order.", "input", "lineIds")
        named = bool(line_ids)
        targets = [
            line for line in chosen if line["status"] == "SHIPPED" and line["delivered_on"] is None
        ]
        if not targets or (named and len(targets) != len(chosen)):
            return Result.fail(
                E.NOT_DELIVERABLE,
                "Only shipped, undelivered lines can be delivered.",
                "input",
                "lineIds",
            )
        for line in targets:
            if delivered_on < line["shipped_at"].astimezone(services.store_tz).date():
                return Result.fail(
                    E.INVALID_DATE, "Delivered before it was shipped.", "input", "deliveredOn"
                )
        await conn.execute(
            "UPDATE order_lines SET delivered_on = $2, updated_at = now() "
            "WHERE id = ANY($1::bigint[])",
            [line["id"] for line in targets],
            delivered_on,
        )
        await store.insert_events(
            conn,
            order_id,
            [
                (
                    line["id"],
                    "line.delivered",
                    actor.name,
                    None,
                    {"deliveredOn": delivered_on.isoformat()},
                )
                for line in targets
            ],
        )
        await uow.commit()
    return Result(Changed(order_id, len(targets)))


# ---------------------------------------------------------------- KPI

ACCURACY_SQL = """
SELECT (o.placed_at AT TIME ZONE $2)::date AS placed_on, fp.earliest, fp.latest, l.delivered_on
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
JOIN LATERAL (SELECT lp.earliest, lp.latest FROM line_promises lp WHERE lp.line_id = l.id
              ORDER BY lp.id LIMIT 1) fp ON true
WHERE l.delivered_on IS NOT NULL AND fp.latest IS NOT NULL
  AND ($1::text IS NULL OR p.sku = $1)
"""


async def accuracy(services: Services, sku: str | None) -> Accuracy:
    """Promise accuracy of delivered lines against their FIRST promise."""
    async with services.read_pool.acquire() as conn:
        rows = await conn.fetch(ACCURACY_SQL, sku, services.settings.store_timezone)
    return promise_accuracy(
        (r["placed_on"], r["earliest"], r["latest"], r["delivered_on"]) for r in rows
    )


async def load_promises(services: Services, line_ids: list[int]) -> dict[int, list[Any]]:
    async with services.read_pool.acquire() as conn:
        rows = await store.promises_by_line(conn, line_ids)
    grouped: dict[int, list[Any]] = {i: [] for i in line_ids}
    for row in rows:
        grouped[row["line_id"]].append(row)
    return grouped


async def line_order_id(services: Services, line_id: int) -> Any:
    async with services.read_pool.acquire() as conn:
        row = await store.order_of_line(conn, line_id)
    return row["order_id"] if row is not None else None
