"""Order placement: one governed intake for every channel.

``place_order`` is one transaction: claim the idempotency key, plan every line from a snapshot
(no locks), write the order, its lines, payment entries and events, and only then take the
contended pool rows with atomic conditional updates, in a fixed order, right before COMMIT, so
a hot row is locked for as short a time as possible. A lost race re-plans from a fresh
snapshot; after a few tries the line is reported sold out with what is possible.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import orjson
from asyncpg.exceptions import DeadlockDetectedError, SerializationError

from app.domain.availability import MAX_UNITS, PaymentTerms, PoolKind
from app.domain.estimates import Handling, QueuedLine, estimate_queue
from app.domain.lines import LineState, LineStatus, shipment_groups
from app.domain.payments import PaymentKind, payment_at_placement
from app.domain.placement import (
    LinePlan,
    LineRequest,
    PlanError,
    consume,
    order_tags,
    plan_line,
)
from app.domain.text import MAX_TEXT, clean_text
from app.services import policy
from app.services.auth import CachedCredential, CredentialChanged
from app.services.container import Services
from app.services.error_codes import PlacementErrorCode as E
from app.services.orders.payments import GatewayJournal, PaymentDeclined
from app.services.reference import ChannelRef, handling, load_reference
from app.services.results import Actor, Result, ServiceError
from app.storage import placement as store
from app.storage.inventory import SkuRecord

# Pools of one SKU are always taken in this order (the global lock order).
POOL_LOCK_ORDER = {
    PoolKind.CHANNEL: 0,
    PoolKind.READY: 1,
    PoolKind.PRE_ORDER: 2,
    PoolKind.BACKORDER: 3,
}
MAX_ATTEMPTS = 4
MAX_LINES = 200


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    accept_backorder: bool = True
    accept_preorder: bool = True


@dataclass(frozen=True)
class PlaceOrderInput:
    idempotency_key: str
    channel: str
    customer_email: str
    customer_name: str
    lines: tuple[LineInput, ...]
    region: str | None = None
    postal_code: str | None = None
    address: dict[str, Any] = field(default_factory=dict)
    ship_together: bool = False

    def request_hash(self) -> str:
        """SHA-256 of every field but the key, as sorted JSON. Stored with the key: it must
        not change across releases (a retry after a deploy would look like another payload);
        ``tests/api/test_compiled_place_order.py`` pins it to ``dataclasses.asdict``'s form."""
        body = {
            "address": self.address,
            "channel": self.channel,
            "customer_email": self.customer_email,
            "customer_name": self.customer_name,
            "lines": [
                {
                    "accept_backorder": line.accept_backorder,
                    "accept_preorder": line.accept_preorder,
                    "quantity": line.quantity,
                    "sku": line.sku,
                }
                for line in self.lines
            ],
            "postal_code": self.postal_code,
            "region": self.region,
            "ship_together": self.ship_together,
        }
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class Placed:
    order_id: Any
    number: str
    token: str | None  # shown once, at placement; None on an idempotent replay
    replayed: bool
    row: Any = None  # the order row as written, when placed now
    # The lines as the read model reads them, when placed now and none waits in a queue
    # (a queue position is computed when read); lets the answer skip reading them back.
    lines: tuple[dict[str, Any], ...] | None = None


class _LostRace(Exception):
    """A conditional update found less than the snapshot promised: re-plan."""


def _validate(data: PlaceOrderInput) -> list[ServiceError]:
    errors: list[ServiceError] = []
    texts: list[tuple[tuple[str, ...], str | None]] = [
        (("input", "idempotencyKey"), data.idempotency_key),
        (("input", "customer", "email"), data.customer_email),
        (("input", "customer", "name"), data.customer_name),
        (("input", "shippingAddress", "region"), data.region),
        (("input", "shippingAddress", "postalCode"), data.postal_code),
        *((("input", "lines", str(i), "sku"), line.sku) for i, line in enumerate(data.lines)),
        *(
            (("input", "shippingAddress", key), str(value))
            for key, value in data.address.items()
            if value is not None
        ),
    ]
    for path, value in texts:
        if not clean_text(value):
            errors.append(
                ServiceError(path, E.INVALID, f"At most {MAX_TEXT} characters, no NUL bytes.")
            )
    if errors:
        return errors
    if not data.idempotency_key.strip() or len(data.idempotency_key) > 255:
        errors.append(ServiceError(("input", "idempotencyKey"), E.INVALID, "1 to 255 characters."))
    if "@" not in data.customer_email or len(data.customer_email) > 320:
        errors.append(
            ServiceError(("input", "customer", "email"), E.INVALID, "A valid e-mail is needed.")
        )
    if not data.customer_name.strip():
        errors.append(ServiceError(("input", "customer", "name"), E.INVALID, "Name is required."))
    if not data.lines:
        errors.append(ServiceError(("input", "lines"), E.INVALID, "At least one line."))
    if len(data.lines) > MAX_LINES:
        errors.append(ServiceError(("input", "lines"), E.INVALID, f"At most {MAX_LINES} lines."))
    for i, line in enumerate(data.lines):
        if not 1 <= line.quantity <= MAX_UNITS:
            errors.append(
                ServiceError(
                    ("input", "lines", str(i), "quantity"),
                    E.INVALID_QUANTITY,
                    f"Quantity must be between 1 and {MAX_UNITS}.",
                )
            )
    return errors


async def _check_carrier_service(services: Services, data: PlaceOrderInput) -> list[ServiceError]:
    """A carrier service, when given, must exist in the order's region (or the default one)."""
    service = data.address.get("carrierService")
    if service is None:
        return []
    reference = await load_reference(services)
    if reference.transit(data.region, service) is not None:
        return []
    return [
        ServiceError(
            ("input", "shippingAddress", "carrierService"),
            E.UNKNOWN_CARRIER_SERVICE,
            f"No carrier service {service!r} in this region.",
        )
    ]


async def _channel(services: Services, code: str) -> ChannelRef | None:
    """Channels change rarely: read with the cached reference data, afresh for a code the
    cache does not know (it may have been added since)."""
    channel = (await load_reference(services)).channels.get(code)
    if channel is None:
        channel = (await load_reference(services, fresh=True)).channels.get(code)
    return channel


async def place_order(
    services: Services,
    actor: Actor,
    data: PlaceOrderInput,
    credential: CachedCredential | None = None,
) -> Result[Placed]:
    """Place one order (see the module). ``credential``: ``actor`` comes from a cached
    authentication, checked inside the transaction (``CachedCredential``)."""
    errors = _validate(data) or await _check_carrier_service(services, data)
    if errors:
        if credential is not None:  # unchecked: the key must be good before input errors
            raise CredentialChanged
        return Result(errors=errors)
    scope = f"{actor.name}|{data.channel}"
    request_hash = data.request_hash()
    skus = sorted({line.sku for line in data.lines})
    for _attempt in range(MAX_ATTEMPTS):
        journal = GatewayJournal(services.gateway)
        try:
            async with services.placement_uow() as uow:
                conn = uow.conn
                claim = await store.claim_key_and_snapshot(
                    conn,
                    scope,
                    data.idempotency_key,
                    request_hash,
                    services.settings.idempotency_hours,
                    skus,
                    credential.prefix if credential is not None else None,
                )
                if credential is not None and not credential.still_valid(claim.api_key):
                    raise CredentialChanged
                if not claim.ours:
                    if claim.existing is None:  # expired and deleted meanwhile: claim again
                        raise _LostRace
                    return _replay(claim.existing, request_hash)
                channel = await _channel(services, data.channel)
                if channel is None:
                    return Result.fail(
                        E.UNKNOWN_CHANNEL, f"No channel {data.channel!r}.", "input", "channel"
                    )
                if not policy.may_place_on(actor, data.channel, channel.kind):
                    return Result.fail(
                        E.CHANNEL_NOT_ALLOWED,
                        f"This API key may not place orders on {data.channel!r}.",
                        "input",
                        "channel",
                    )
                records = claim.records
                unknown = [
                    ServiceError(
                        ("input", "lines", str(i), "sku"),
                        E.UNKNOWN_SKU,
                        f"No product {line.sku!r}.",
                    )
                    for i, line in enumerate(data.lines)
                    if line.sku not in records
                ]
                if unknown:
                    return Result(errors=unknown)
                currencies = {records[s].currency for s in skus}
                if len(currencies) > 1:
                    return Result.fail(
                        E.CURRENCY_MISMATCH, "All lines must share one currency.", "input", "lines"
                    )
                plans, plan_errors = _plan(data, records, services)
                if plan_errors:
                    # Stored under the key: a retry with the same key gets the same answer.
                    await store.complete_idempotency_key(
                        conn,
                        scope,
                        data.idempotency_key,
                        None,
                        [
                            {"field": e.field, "code": e.code.value, "message": e.message}
                            for e in plan_errors
                        ],
                    )
                    await uow.commit()
                    return Result(errors=plan_errors)
                placed, reservations = await _write(
                    conn, services, actor, data, channel, records, plans, journal, scope
                )
                # The contended part, last: conditional updates in one fixed order, then
                # COMMIT, in one message.
                if not await uow.reserve_and_commit(reservations):
                    raise _LostRace
        except (_LostRace, DeadlockDetectedError, SerializationError):
            await journal.compensate()
            continue
        except PaymentDeclined as exc:
            await journal.compensate()
            return Result.fail(E.PAYMENT_DECLINED, f"Payment declined: {exc}", "input")
        except BaseException:
            await journal.compensate()
            raise
        # Committed (and outside the journal's reach): the wake-up for the replicas' caches
        # goes out after COMMIT, coalesced with other placements' (one NOTIFY per window).
        await services.inventory_notifier.committed(skus)
        return Result(placed)
    return Result.fail(E.SOLD_OUT, "Stock changed while placing; try again.", "input", "lines")


def _replay(existing: Any, request_hash: str) -> Result[Placed]:
    if existing["request_hash"] != request_hash:
        return Result.fail(
            E.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used with a different request.",
            "input",
            "idempotencyKey",
        )
    if existing["order_id"] is not None:
        return Result(Placed(existing["order_id"], "", None, replayed=True))
    stored = orjson.loads(existing["response"] or "[]")
    return Result(
        errors=[
            ServiceError(tuple(e["field"]) if e["field"] else None, E(e["code"]), e["message"])
            for e in stored
        ],
        replayed=True,
    )


def _plan(
    data: PlaceOrderInput, records: dict[str, SkuRecord], services: Services
) -> tuple[list[LinePlan], list[ServiceError]]:
    today = services.today()
    snapshots = {sku: rec.snapshot for sku, rec in records.items()}
    plans: list[LinePlan] = []
    errors: list[ServiceError] = []
    for i, line in enumerate(data.lines):
        request = LineRequest(
            i, line.sku, line.quantity, line.accept_backorder, line.accept_preorder
        )
        outcome = plan_line(snapshots[line.sku], request, today, data.channel)
        if isinstance(outcome, PlanError):
            errors.append(
                ServiceError(
                    ("input", "lines", str(i), "quantity"), E(outcome.code.value), outcome.message
                )
            )
            continue
        plans.append(outcome)
        snapshots[line.sku] = consume(snapshots[line.sku], outcome)
    return plans, errors


def first_promises(
    lines: list[store.NewLine],
    records: dict[str, SkuRecord],
    today: date,
    transit: Handling,
) -> list[store.NewLine]:
    """The window each waiting line is promised at placement, as the customer is shown it:
    behind every unit already waiting for its SKU (and this order's earlier lines of it),
    against the SKU's supply schedule (``estimate_queue``, the rule every later promise
    follows, so a later change is measured against this one). First in first out: a
    PRIORITY order on a PRIORITY_FIRST SKU is promised as if it joined at the end, and the
    PROMISE_NEW_LINES job moves it (and the lines it jumps) to its place."""
    by_sku: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        if line.queued:
            by_sku.setdefault(line.sku, []).append(i)
    result = list(lines)
    for sku, indexes in by_sku.items():
        record = records[sku]
        ahead = record.waiting_units
        queued = []
        for i in indexes:
            queued.append(QueuedLine(ahead, lines[i].quantity))
            ahead += lines[i].quantity
        estimates = estimate_queue(
            queued, record.supply_sources(today), today, transit, record.snapshot.release_date
        )
        for i, est in zip(indexes, estimates, strict=True):
            result[i] = replace(
                lines[i],
                promise=store.FirstPromise(
                    est.earliest,
                    est.latest,
                    est.confidence.value,
                    est.reason,
                    int(est.supply_id) if est.supply_id and est.supply_id.isdigit() else None,
                ),
            )
    return result


def _pool_id(record: SkuRecord, kind: PoolKind, channel: str | None) -> int:
    for pool in record.pools:
        if pool.kind is kind and (kind is not PoolKind.CHANNEL or pool.channel == channel):
            return pool.id
    raise LookupError(f"{record.snapshot.sku} has no {kind} pool")


def _terms(record: SkuRecord, state: LineState) -> tuple[PaymentTerms, float | None, int | None]:
    if state is LineState.PRE_ORDER:
        return (
            record.snapshot.preorder.payment,
            record.preorder_deposit_percent,
            record.preorder_deposit_minor,
        )
    if state is LineState.BACKORDER:
        return (
            record.snapshot.backorder.payment,
            record.backorder_deposit_percent,
            record.backorder_deposit_minor,
        )
    return PaymentTerms.FULL, None, None


async def _write(
    conn: Any,
    services: Services,
    actor: Actor,
    data: PlaceOrderInput,
    channel: ChannelRef,
    records: dict[str, SkuRecord],
    plans: list[LinePlan],
    gateway: GatewayJournal,
    scope: str,
) -> tuple[Placed, list[tuple[int, int]]]:
    """Everything but the reservation: the order, its lines, payments and events.
    Returns the placed order and the pool updates ``(pool_id, quantity)`` to make last, in
    the fixed lock order (SKU, then CHANNEL, READY, PRE_ORDER, BACKORDER)."""
    now = services.now()
    groups = shipment_groups((a.state for p in plans for a in p.allocations), data.ship_together)
    lines: list[store.NewLine] = []
    for plan in plans:
        record = records[plan.request.sku]
        for sub_no, a in enumerate(plan.allocations):
            terms, _pct, _minor = _terms(record, a.state)
            lines.append(
                store.NewLine(
                    line_no=plan.request.index + 1,
                    sub_no=sub_no + 1,
                    product_id=record.product_id,
                    sku=plan.request.sku,
                    quantity=a.quantity,
                    state=a.state.value,
                    status=(
                        LineStatus.RESERVED if a.state is LineState.READY else LineStatus.WAITING
                    ).value,
                    pool_kind=a.pool.value,
                    pool_channel=a.channel,
                    unit_price_minor=record.price_minor,
                    payment_terms=terms.value,
                    shipment_group=groups[a.state],
                    queued=a.state is not LineState.READY,
                )
            )
    if any(line.queued for line in lines):
        reference = await load_reference(services)
        region = reference.transit_or_default(data.region, data.address.get("carrierService"))
        lines = first_promises(lines, records, services.today(), handling(services, region))
    # a priority customer's PRIORITY is added in SQL, from the customer row
    tags = order_tags(
        (LineState(line.state) for line in lines),
        limited_run=any("LIMITED_RUN" in records[line.sku].tags for line in lines),
        channel_priority=channel.priority,
    )
    currency = records[lines[0].sku].currency
    total = sum(line.quantity * line.unit_price_minor for line in lines)
    payments: list[store.NewPayment] = []
    for line in lines:
        record = records[line.sku]
        terms, pct, minor = _terms(record, LineState(line.state))
        amount = line.quantity * line.unit_price_minor
        step = payment_at_placement(LineState(line.state), terms, amount, line.quantity, pct, minor)
        if step.amount_minor == 0:
            continue
        result = await gateway.execute(step.kind, step.amount_minor, currency, None)
        if not result.approved:
            raise PaymentDeclined(result.message or "declined")
        payments.append(
            store.NewPayment(
                line_no=line.line_no,
                sub_no=line.sub_no,
                kind=step.kind.value,
                amount_minor=step.amount_minor,
                reference=result.reference,
                expires_at=(
                    now + timedelta(days=services.settings.authorization_valid_days)
                    if step.kind is PaymentKind.AUTHORIZE
                    else None
                ),
                note=(
                    f"balance {step.due_at_dispatch_minor} due at dispatch"
                    if step.due_at_dispatch_minor and step.kind is PaymentKind.CAPTURE
                    else None
                ),
            )
        )
    token = secrets.token_urlsafe(24)
    order = await store.insert_bundle(
        conn,
        channel=data.channel,
        email=data.customer_email,
        name=data.customer_name,
        region=data.region,
        postal_code=data.postal_code,
        address=data.address,
        ship_together=data.ship_together,
        tags=sorted(tags),
        currency=currency,
        total_minor=total,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        placed_by=actor.name,
        placed_at=now,
        idempotency_key=data.idempotency_key,
        scope=scope,
        lines=lines,
        payments=payments,
        gateway=gateway.name,
        trust_customer=policy.trusts_customer_claims(actor),
        priority_first_products=sorted(
            {
                records[line.sku].product_id
                for line in lines
                if line.queued and records[line.sku].allocation_policy == "PRIORITY_FIRST"
            }
        ),
    )
    updates: dict[int, int] = {}
    order_key: dict[int, tuple[str, int]] = {}
    for line in lines:
        record = records[line.sku]
        kind = PoolKind(line.pool_kind)
        pool_id = _pool_id(record, kind, line.pool_channel)
        updates[pool_id] = updates.get(pool_id, 0) + line.quantity
        order_key[pool_id] = (line.sku, POOL_LOCK_ORDER[kind])
    reservations = [
        (pool_id, updates[pool_id]) for pool_id in sorted(updates, key=lambda pid: order_key[pid])
    ]
    line_rows = None
    if all(line.status == LineStatus.RESERVED for line in lines):  # no queue position to compute
        line_rows = store.placed_line_rows(order, lines)
    placed = Placed(order["id"], order["number"], token, replayed=False, row=order, lines=line_rows)
    return placed, reservations
