"""Delivery promises: computed set-wise per SKU, kept with their history, re-promised on change.

``recompute`` runs inside the transaction that changed a SKU's queue or supply (a receipt, a
slip, a pause, a cancellation, a release) and, for lines placed since the last run, from the
``promise_new_lines`` scheduled job. For every open waiting line of the SKU it computes the
window with the pure ``app.domain.estimates.estimate_queue`` (cumulative queue position
against the cumulative supply schedule), compares it with the line's current promise and,
where it changed, writes the new promise, a ``line_promises`` history row with the cause,
and, when the window moved later, a ``line.delivery_delayed`` order event plus a
``DELIVERY_DELAYED`` outbox event for the notifications. A delay beyond
``OMS_DELAY_CONSENT_DAYS`` past the first promise asks the customer for consent
(``respondToDelay``); no answer within ``OMS_DELAY_CONSENT_WAIT_DAYS`` follows
``OMS_DELAY_NO_ANSWER_POLICY``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from app.domain.estimates import (
    Estimate,
    Handling,
    QueuedLine,
    SupplyKind,
    SupplySource,
    estimate_line,
    estimate_queue,
)
from app.services.container import Services
from app.storage.allocation import free_units
from app.storage.inventory import SkuRecord, supply_sources

OUTBOX_CHANNEL = "oms_outbox"

# ``units_ahead`` is over the whole queue; only then are the lines to promise picked
# (``only_new``: the lines ahead of a new line count even when they are promised already).
QUEUE_SQL = """
SELECT * FROM (
SELECT l.id, l.order_id, o.number, l.product_id, l.sku, l.quantity, l.allocated, l.status,
       l.state, l.paused_at IS NOT NULL AS paused, l.promised_earliest, l.promised_latest,
       l.promise_confidence, l.promised_at, l.delay_consent, o.region, p.release_date,
       o.address->>'carrierService' AS carrier_service, l.queue_seq,
       CASE WHEN p.allocation_policy = 'PRIORITY_FIRST' AND 'PRIORITY' = ANY(o.tags)
            THEN 0 ELSE 1 END AS queue_rank,
       COALESCE(SUM(CASE WHEN l.status = 'WAITING' AND l.paused_at IS NULL
                         THEN l.quantity - l.allocated ELSE 0 END) OVER (
           PARTITION BY l.product_id
           ORDER BY CASE WHEN p.allocation_policy = 'PRIORITY_FIRST'
                          AND 'PRIORITY' = ANY(o.tags) THEN 0 ELSE 1 END, l.queue_seq
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::bigint AS units_ahead
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
WHERE l.product_id = ANY($1::uuid[]) AND l.status IN ('WAITING', 'ALLOCATED')
  AND l.state <> 'READY'
) q
WHERE $2::bool OR q.promised_at IS NULL
ORDER BY q.product_id, q.queue_rank, q.queue_seq
"""

SUPPLY_SQL = """
SELECT su.product_id,
       json_agg(json_build_array(su.id, su.kind, GREATEST(0, su.quantity - su.received_quantity),
                                 su.expected_on, su.units_per_day, su.slips, sp.receipts,
                                 sp.on_time_receipts) ORDER BY su.expected_on, su.id) AS supply
FROM supply su LEFT JOIN suppliers sp ON sp.code = su.supplier_code
WHERE su.product_id = ANY($1::uuid[]) AND su.status = 'OPEN'
GROUP BY su.product_id
"""

FIRST_PROMISES_SQL = """
SELECT DISTINCT ON (line_id) line_id, latest FROM line_promises
WHERE line_id = ANY($1::bigint[]) ORDER BY line_id, id
"""

WRITE_SQL = """
WITH x AS (
    SELECT * FROM unnest($1::bigint[], $2::date[], $3::date[], $4::text[], $5::bigint[],
                         $6::text[], $7::int[], $8::text[], $9::text[])
         AS x(line_id, earliest, latest, confidence, supply_id, reason, delayed_days, consent,
              cause)
), upd AS (
    UPDATE order_lines l
    SET promised_earliest = x.earliest, promised_latest = x.latest,
        promise_confidence = x.confidence, promised_at = $10,
        delay_consent = COALESCE(x.consent, l.delay_consent),
        consent_due_at = CASE WHEN x.consent = 'REQUESTED' THEN $11 ELSE l.consent_due_at END,
        updated_at = now()
    FROM x WHERE l.id = x.line_id
)
INSERT INTO line_promises (line_id, earliest, latest, confidence, supply_id, reason, cause,
                           delayed_days)
SELECT line_id, earliest, latest, confidence, supply_id, reason, cause, delayed_days FROM x
"""


@dataclass(frozen=True)
class RegionTransit:
    code: str
    transit_min_days: int
    transit_max_days: int


@dataclass(frozen=True)
class Transits:
    """Transit days by region (the default region also under ``""``) and carrier service."""

    regions: dict[str, RegionTransit]
    services: dict[tuple[str, str], RegionTransit]

    def transit(self, region_code: str | None, service: str | None) -> RegionTransit | None:
        region = self.regions.get(region_code or "") or self.regions.get("")
        if region is None or service is None:
            return region
        return self.services.get((region.code, service), region)


async def load_transits(services: Services, conn: asyncpg.Connection) -> Transits:
    """Regions and carrier services; cached like other reference data."""
    cached = services.cache.get("promise-transits")
    if isinstance(cached, Transits):
        return cached
    regions: dict[str, RegionTransit] = {}
    for row in await conn.fetch(
        "SELECT code, transit_min_days, transit_max_days, is_default FROM regions"
    ):
        region = RegionTransit(row["code"], row["transit_min_days"], row["transit_max_days"])
        regions[row["code"]] = region
        if row["is_default"]:
            regions[""] = region
    carrier: dict[tuple[str, str], RegionTransit] = {}
    for row in await conn.fetch(
        "SELECT region_code, code, transit_min_days, transit_max_days FROM carrier_services"
    ):
        carrier[(row["region_code"], row["code"])] = RegionTransit(
            row["region_code"], row["transit_min_days"], row["transit_max_days"]
        )
    transits = Transits(regions, carrier)
    services.cache.put("promise-transits", transits, services.settings.reference_cache_seconds)
    return transits


@dataclass(frozen=True)
class Repromised:
    lines: int
    delayed: int


def _handling(services: Services, region: RegionTransit | None) -> Handling:
    days = services.settings.handling_days
    if region is None:
        return Handling(days, 0, 0)
    return Handling(days, region.transit_min_days, region.transit_max_days)


async def recompute(
    conn: asyncpg.Connection,
    services: Services,
    product_ids: Sequence[uuid.UUID],
    cause: str,
    actor: str,
    *,
    only_new: bool = False,
) -> Repromised:
    """Re-promise the open waiting lines of these SKUs (``only_new``: lines never promised)."""
    if not product_ids:
        return Repromised(0, 0)
    ids = sorted(set(product_ids))
    rows = await conn.fetch(QUEUE_SQL, ids, not only_new)
    if not rows:
        return Repromised(0, 0)
    today = services.today()
    now = services.now()
    transits = await load_transits(services, conn)
    free = await free_units(conn, ids)
    supply = {
        r["product_id"]: supply_sources(r["supply"]) for r in await conn.fetch(SUPPLY_SQL, ids)
    }
    by_product: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        if row["paused"]:
            continue  # a paused line keeps its promise until it is resumed
        by_product.setdefault(row["product_id"], []).append(row)
    writes: list[tuple[Any, Estimate, int, str | None]] = []
    delayed_events: list[tuple[Any, Estimate, int, bool]] = []
    threshold = services.settings.delay_consent_days
    for product_id, lines in by_product.items():
        sources: list[SupplySource] = []
        if free.get(product_id, 0) > 0:
            sources.append(SupplySource(None, SupplyKind.ON_HAND, free[product_id], today))
        sources.extend(supply.get(product_id, ()))
        # Lines of each region and carrier service share one computation (they differ only
        # in transit days).
        by_region: dict[tuple[str, str | None], list[Any]] = {}
        for row in lines:
            by_region.setdefault((row["region"] or "", row["carrier_service"]), []).append(row)
        for (region_code, service), region_lines in by_region.items():
            region = transits.transit(region_code, service)
            queued = [
                QueuedLine(
                    int(r["units_ahead"]),
                    int(r["quantity"] - r["allocated"]) if r["status"] == "WAITING" else 0,
                )
                for r in region_lines
            ]
            estimates = estimate_queue(
                queued,
                sources,
                today,
                _handling(services, region),
                region_lines[0]["release_date"],
            )
            for row, est in zip(region_lines, estimates, strict=True):
                confidence = est.confidence.value
                if (
                    row["promised_at"] is not None
                    and row["promised_earliest"] == est.earliest
                    and row["promised_latest"] == est.latest
                    and row["promise_confidence"] == confidence
                ):
                    continue
                delayed_days = _delay(row["promised_latest"], est.latest, row["promised_at"])
                writes.append((row, est, delayed_days, None))
    if not writes:
        return Repromised(0, 0)
    # Consent is asked when a delay ends more than the threshold after the FIRST promise:
    # first promises are read only for the lines that slipped now.
    slipped = [w[0]["id"] for w in writes if w[2] > 0 and w[0]["delay_consent"] is None]
    first_latest: dict[int, date | None] = {}
    if slipped:
        for r in await conn.fetch(FIRST_PROMISES_SQL, slipped):
            first_latest[r["line_id"]] = r["latest"]
    for i, (row, est, delayed_days, _none) in enumerate(writes):
        if delayed_days <= 0:
            continue
        first = first_latest.get(row["id"])
        consent: str | None = None
        if (
            row["delay_consent"] is None
            and first is not None
            and (est.latest is None or (est.latest - first).days > threshold)
        ):
            consent = "REQUESTED"
            writes[i] = (row, est, delayed_days, consent)
        delayed_events.append((row, est, delayed_days, consent is not None))
    due = now + timedelta(days=services.settings.delay_consent_wait_days)
    await conn.execute(
        WRITE_SQL,
        [w[0]["id"] for w in writes],
        [w[1].earliest for w in writes],
        [w[1].latest for w in writes],
        [w[1].confidence.value for w in writes],
        [_int_or_none(w[1].supply_id) for w in writes],
        [w[1].reason for w in writes],
        [w[2] for w in writes],
        [w[3] for w in writes],
        # a line's first promise is always caused by its placement
        [cause if w[0]["promised_at"] is not None else "PLACED" for w in writes],
        now,
        due,
    )
    if delayed_events:
        await _emit_delays(conn, delayed_events, cause, actor, due)
    return Repromised(len(writes), len(delayed_events))


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _delay(before: date | None, after: date | None, promised_at: datetime | None) -> int:
    """Days a promise moved later; a dated promise that lost its date counts as 1 day late
    (the customer must hear of it) until a new date is known."""
    if promised_at is None or before is None:
        return 0
    if after is None:
        return 1
    return max(0, (after - before).days)


def _window(earliest: date | None, latest: date | None) -> dict[str, str | None]:
    return {
        "earliest": earliest.isoformat() if earliest else None,
        "latest": latest.isoformat() if latest else None,
    }


async def _emit_delays(
    conn: asyncpg.Connection,
    delayed: list[tuple[Any, Estimate, int, bool]],
    cause: str,
    actor: str,
    due: datetime,
) -> None:
    """An order event per delayed line and a DELIVERY_DELAYED outbox event, in the same
    transaction as the change that caused it (the transactional outbox)."""
    order_ids: list[Any] = []
    line_ids: list[int] = []
    befores: list[str] = []
    afters: list[str] = []
    payloads: list[str] = []
    for row, est, days, consent in delayed:
        before = _window(row["promised_earliest"], row["promised_latest"])
        after = {
            **_window(est.earliest, est.latest),
            "confidence": est.confidence.value,
            "delayedDays": days,
            "cause": cause,
            "reason": est.reason,
            "consentRequested": consent,
            "consentDueAt": due.isoformat() if consent else None,
        }
        order_ids.append(row["order_id"])
        line_ids.append(row["id"])
        befores.append(orjson.dumps(before).decode())
        afters.append(orjson.dumps(after).decode())
        payloads.append(
            orjson.dumps(
                {
                    "orderId": str(row["order_id"]),
                    "orderNumber": row["number"],
                    "lineId": row["id"],
                    "sku": row["sku"],
                    "before": before,
                    "after": after,
                }
            ).decode()
        )
    await conn.execute(
        """
        WITH ev AS (
            INSERT INTO order_events (order_id, line_id, action, actor, before, after)
            SELECT o, l, 'line.delivery_delayed', $6, b::jsonb, a::jsonb
            FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[]) AS x(o, l, b, a)
        ), ob AS (
            INSERT INTO outbox_events (topic, aggregate_id, payload)
            SELECT 'DELIVERY_DELAYED', l::text, p::jsonb
            FROM unnest($2::bigint[], $5::text[]) AS y(l, p)
        )
        SELECT pg_notify($7, 'DELIVERY_DELAYED')
        """,
        order_ids,
        line_ids,
        befores,
        afters,
        payloads,
        actor,
        OUTBOX_CHANNEL,
    )


def live_estimate(
    record: SkuRecord,
    units_ahead: int,
    remaining: int,
    region: RegionTransit | None,
    services: Services,
) -> Estimate:
    """A line's window computed now from the SKU snapshot: for a line the promise job has not
    promised yet (placement stays short: its first promise is recorded moments later) and for
    the next customer on the PDP (``units_ahead``: all the waiting units)."""
    today = services.today()
    return estimate_line(
        units_ahead,
        remaining,
        record.supply_sources(today),
        today,
        _handling(services, region),
        record.snapshot.release_date,
    )
