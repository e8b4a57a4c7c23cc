"""Delivery promises: computed set-wise per SKU, kept with their history, re-promised on change.

``recompute`` runs inside the transaction that changed a SKU's queue or supply (a receipt, a
slip, a pause, a cancellation, a release) and, for lines placed since the last run, from the
``promise_new_lines`` scheduled job. For every open waiting line of the SKU it computes the
window with the pure ``app.domain.estimates.estimate_queue`` (cumulative queue position
against the cumulative supply schedule), compares it with the line's current promise and,
where it changed, writes the new promise, a ``line_promises`` history row with the cause,
and an event in the ledger (``LINE_DELIVERY_DELAYED`` when the window moved later, else
``LINE_PROMISE_CHANGED``; what the notifications and live subscriptions read). A delay beyond
``OMS_DELAY_CONSENT_DAYS`` past the first promise asks the customer for consent
(``respondToDelay``); no answer within ``OMS_DELAY_CONSENT_WAIT_DAYS`` follows
``OMS_DELAY_NO_ANSWER_POLICY``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from app.domain.estimates import (
    Estimate,
    PromiseCause,
    QueuedLine,
    SupplyKind,
    SupplySource,
    asks_consent,
    estimate_line,
    estimate_queue,
)
from app.domain.lines import DelayConsent, LineStatus
from app.services.container import Services
from app.services.reference import RegionTransit, handling, load_reference
from app.storage import promises as store
from app.storage.allocation import free_units
from app.storage.inventory import SkuRecord


@dataclass(frozen=True)
class Repromised:
    lines: int
    delayed: int


async def recompute(
    conn: asyncpg.Connection,
    services: Services,
    product_ids: Sequence[uuid.UUID],
    cause: PromiseCause,
    actor: str,
    *,
    only_new: bool = False,
    note: str | None = None,
) -> Repromised:
    """Re-promise the open waiting lines of these SKUs (``only_new``: lines never promised)."""
    if not product_ids:
        return Repromised(0, 0)
    ids = sorted(set(product_ids))
    rows = await store.queue(conn, ids, every_line=not only_new)
    if not rows:
        return Repromised(0, 0)
    today = services.today()
    now = services.now()
    reference = await load_reference(services)
    free = await free_units(conn, ids)
    supply = await store.open_supply(conn, ids)
    by_product: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        if row["paused"]:
            continue  # a paused line keeps its promise until it is resumed
        by_product.setdefault(row["product_id"], []).append(row)
    writes: list[tuple[Any, Estimate, int, str | None]] = []
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
            region = reference.transit_or_default(region_code, service)
            queued = [
                QueuedLine(
                    int(r["units_ahead"]),
                    int(r["quantity"] - r["allocated"]) if r["status"] == LineStatus.WAITING else 0,
                )
                for r in region_lines
            ]
            estimates = estimate_queue(
                queued,
                sources,
                today,
                handling(services, region),
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
    first_latest = await store.first_promised_latest(conn, slipped) if slipped else {}
    delayed = 0
    for i, (row, est, delayed_days, _none) in enumerate(writes):
        if delayed_days <= 0:
            continue
        delayed += 1
        consent: str | None = None
        if asks_consent(row["delay_consent"], first_latest.get(row["id"]), est.latest, threshold):
            consent = DelayConsent.REQUESTED
            writes[i] = (row, est, delayed_days, consent)
    await store.write_promises(
        conn,
        [
            store.NewPromise(
                line_id=row["id"],
                earliest=est.earliest,
                latest=est.latest,
                confidence=est.confidence.value,
                supply_id=_int_or_none(est.supply_id),
                reason=est.reason,
                delayed_days=days,
                consent=consent,
                # a line's first promise is always caused by its placement
                cause=cause if row["promised_at"] is not None else PromiseCause.PLACED,
                order_id=row["order_id"],
                order_number=row["number"],
                sku=row["sku"],
                was_earliest=row["promised_earliest"],
                was_latest=row["promised_latest"],
            )
            for row, est, days, consent in writes
        ],
        now,
        actor,
        note,
    )
    return Repromised(len(writes), delayed)


@dataclass(frozen=True)
class Move:
    """A line's promise moved to a window decided elsewhere than its SKU's queue (a
    consolidated shipment follows its latest line). ``line``: its row (``id``, ``order_id``,
    ``number``, ``sku``, ``promised_earliest``, ``promised_latest``, ``promised_at``,
    ``delay_consent``)."""

    line: Any
    earliest: date | None
    latest: date | None
    confidence: str


async def move(
    conn: asyncpg.Connection,
    services: Services,
    moves: Sequence[Move],
    cause: PromiseCause,
    actor: str,
    note: str | None = None,
) -> Repromised:
    """Write these lines' new promises with the usual delay rules: a later window is a
    ``line.delivery_delayed`` (asking for consent beyond ``OMS_DELAY_CONSENT_DAYS`` past the
    first promise), as ``recompute`` writes them."""
    if not moves:
        return Repromised(0, 0)
    delays = {
        m.line["id"]: _delay(m.line["promised_latest"], m.latest, m.line["promised_at"])
        for m in moves
    }
    slipped = [m.line["id"] for m in moves if delays[m.line["id"]] > 0]
    first_latest = await store.first_promised_latest(conn, slipped) if slipped else {}
    threshold = services.settings.delay_consent_days
    promises: list[store.NewPromise] = []
    for m in moves:
        row, days = m.line, delays[m.line["id"]]
        asked = days > 0 and asks_consent(
            row["delay_consent"], first_latest.get(row["id"]), m.latest, threshold
        )
        promises.append(
            store.NewPromise(
                line_id=row["id"],
                earliest=m.earliest,
                latest=m.latest,
                confidence=m.confidence,
                supply_id=None,
                reason=None,
                delayed_days=days,
                consent=DelayConsent.REQUESTED if asked else None,
                cause=cause if row["promised_at"] is not None else PromiseCause.PLACED,
                order_id=row["order_id"],
                order_number=row["number"],
                sku=row["sku"],
                was_earliest=row["promised_earliest"],
                was_latest=row["promised_latest"],
            )
        )
    await store.write_promises(conn, promises, services.now(), actor, note)
    return Repromised(len(promises), sum(1 for d in delays.values() if d > 0))


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
        handling(services, region),
        record.snapshot.release_date,
    )
