"""Order placement: one governed intake for every channel.

``place_order`` is one transaction: claim the idempotency key, plan every line from a snapshot
(no locks), write the order, its lines, payment entries and events, and only then take the
contended pool rows with atomic conditional updates, in a fixed order, right before COMMIT, so
a hot row is locked for as short a time as possible. A lost race re-plans from a fresh
snapshot; after a few tries the line is reported sold out with what is possible.

Input is checked before anything starts (``app.domain.text``, ``app.domain.contact``, the
region and carrier service); what needs the database is checked from the claim's snapshot: the
SKUs, the order's total (64 bits) and, for callers the channel's unit limits bind
(``policy.bound_by_channel_limits``), those limits: units per line, and units of a SKU one
customer holds on open orders on the channel. The customer limit is checked once more in the
last message, before COMMIT, so that two racing orders of one customer cannot both pass it.
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
from app.domain.contact import normalise_email
from app.domain.estimates import Handling, QueuedLine, estimate_queue
from app.domain.lines import LineState, LineStatus, shipment_groups
from app.domain.payments import PaymentKind, payment_at_placement
from app.domain.placement import (
    LinePlan,
    LineRefusal,
    LineRequest,
    PlanError,
    UnitLimits,
    amount_refusals,
    consume,
    limit_refusals,
    order_tags,
    plan_line,
)
from app.domain.text import INT64_MAX, MAX_CODE, MAX_TEXT, lookup_key, text_problem
from app.metrics import PLACEMENT_RETRIES, PLACEMENTS
from app.services import policy
from app.services.auth import CachedCredential, CredentialChanged
from app.services.container import Services
from app.services.error_codes import PlacementErrorCode as E
from app.services.orders.payments import GatewayJournal, PaymentDeclined
from app.services.reference import ChannelRef, handling, load_reference
from app.services.results import Actor, Result, ServiceError, refusals
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
MAX_ADDRESS_LINES = 10


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


def _address_texts(data: PlaceOrderInput) -> list[tuple[tuple[str, ...], str | None]]:
    """The problem of each text of the shipping address, with its input path (the address
    lines one by one): one line each, a carrier service a code."""
    where = ("input", "shippingAddress")
    found: list[tuple[tuple[str, ...], str | None]] = []
    for key, value in data.address.items():
        if isinstance(value, list):
            found += [
                ((*where, key, str(i)), text_problem(str(item), one_line=True))
                for i, item in enumerate(value)
            ]
        elif value is not None:
            limit = MAX_CODE if key == "carrierService" else MAX_TEXT
            found.append(((*where, key), text_problem(str(value), limit, one_line=True)))
    return found


def _validate(data: PlaceOrderInput, email: str | None) -> list[ServiceError]:
    """The input's own rules (``app.domain.text``, ``app.domain.contact``): every text one
    PostgreSQL can store, on one line, of a sane length; ``email``, the customer's address
    checked (None: it is not one); quantities in range. Nothing here needs the database."""
    if not lookup_key(data.channel, MAX_CODE):  # names no channel: the unknown channel's answer
        return [
            ServiceError(("input", "channel"), E.UNKNOWN_CHANNEL, f"No channel {data.channel!r}.")
        ]
    bad_email = "A valid e-mail address is needed." if email is None else None
    errors = refusals(
        E.INVALID,
        [
            (
                ("input", "idempotencyKey"),
                text_problem(data.idempotency_key, 255, required=True, one_line=True),
            ),
            (("input", "customer", "email"), bad_email),
            (
                ("input", "customer", "name"),
                text_problem(data.customer_name, required=True, one_line=True),
            ),
            (
                ("input", "shippingAddress", "region"),
                text_problem(data.region, MAX_CODE, one_line=True),
            ),
            (
                ("input", "shippingAddress", "postalCode"),
                text_problem(data.postal_code, MAX_CODE, one_line=True),
            ),
            *(
                (("input", "lines", str(i), "sku"), text_problem(line.sku, MAX_CODE, one_line=True))
                for i, line in enumerate(data.lines)
            ),
            *_address_texts(data),
        ],
    )
    if len(data.address.get("lines") or ()) > MAX_ADDRESS_LINES:
        errors.append(
            ServiceError(
                ("input", "shippingAddress", "lines"),
                E.INVALID,
                f"At most {MAX_ADDRESS_LINES} address lines.",
            )
        )
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


async def _check_reference(services: Services, data: PlaceOrderInput) -> list[ServiceError]:
    """The region, when given, must be one (as ``productAvailability`` asks), and a carrier
    service must exist in the order's region (or the default one). A code the cached reference
    data does not know is looked up afresh (it may have been added since)."""
    service = data.address.get("carrierService")
    if data.region is None and service is None:
        return []
    reference = await load_reference(services)
    if data.region is not None and data.region not in reference.regions:
        reference = await load_reference(services, fresh=True)
        if data.region not in reference.regions:
            return [
                ServiceError(
                    ("input", "shippingAddress", "region"),
                    E.UNKNOWN_REGION,
                    f"No region {data.region!r}.",
                )
            ]
    if service is None or reference.transit(data.region, service) is not None:
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


@dataclass(frozen=True)
class Terms:
    """How a door other than ``placeOrder`` places (the channel intake): ``exempt_from_limits``,
    an account the channel's rules free from its unit limits (a B2B buyer);
    ``lock_timeout_ms``, give up (``LockNotAvailableError``) rather than wait longer for a
    locked row, so the caller retries later instead of holding its sender."""

    exempt_from_limits: bool = False
    lock_timeout_ms: int | None = None


DEFAULT_TERMS = Terms()


async def place_order(
    services: Services,
    actor: Actor,
    data: PlaceOrderInput,
    credential: CachedCredential | None = None,
    terms: Terms = DEFAULT_TERMS,
) -> Result[Placed]:
    """Place one order (see the module). ``credential``: ``actor`` comes from a cached
    authentication, checked inside the transaction (``CachedCredential``). Its outcome is
    counted (``oms_placements_total``)."""
    result = await _place_order(services, actor, data, credential, terms)
    if result.value is not None:
        outcome = "replayed" if result.value.replayed else "placed"
    else:
        outcome = result.errors[0].code.value if result.errors else "refused"
    PLACEMENTS.labels(outcome).inc()
    return result


async def _place_order(
    services: Services,
    actor: Actor,
    data: PlaceOrderInput,
    credential: CachedCredential | None,
    terms: Terms,
) -> Result[Placed]:
    email = normalise_email(data.customer_email)
    errors = _validate(data, email) or await _check_reference(services, data)
    if errors:
        if credential is not None:  # unchecked: the key must be good before input errors
            raise CredentialChanged
        return Result(errors=errors)
    scope = f"{actor.name}|{data.channel}"
    request_hash = data.request_hash()  # of the input as given (stable across releases)
    if email is not None and email != data.customer_email:
        data = replace(data, customer_email=email)  # the address as stored and mailed to
    bound = policy.bound_by_channel_limits(actor) and not terms.exempt_from_limits
    skus = sorted({line.sku for line in data.lines})
    for _attempt in range(MAX_ATTEMPTS):
        journal = GatewayJournal(services.gateway)
        try:
            async with services.placement_uow(terms.lock_timeout_ms) as uow:
                conn = uow.conn
                claim = await store.claim_key_and_snapshot(
                    conn,
                    scope,
                    data.idempotency_key,
                    request_hash,
                    services.settings.idempotency_hours,
                    skus,
                    credential.prefix if credential is not None else None,
                    data.channel,
                    data.customer_email if bound else None,
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
                limits = _limits(services, claim.channel_limits) if bound else None
                refused = _over_limits(data, records, claim.open_units, limits)
                if refused:  # nothing stored under the key: a retry may pass once orders close
                    return Result(errors=refused)
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
                # The customer's limit again, now that no other order of theirs can commit
                # unseen (the bundle locked the customer row), then the contended part, last:
                # conditional updates in one fixed order, then COMMIT, in one message. A
                # failed check re-plans like a lost race: the fresh claim tells why.
                guards: list[str] = []
                if limits is not None:
                    guards.append(
                        store.customer_limit_guard(
                            placed.order_id,
                            sorted({records[s].product_id for s in skus}),
                            services.settings.max_units_per_customer_sku,
                        )
                    )
                if not await uow.reserve_and_commit(reservations, guards):
                    raise _LostRace
        except (_LostRace, DeadlockDetectedError, SerializationError):
            await journal.compensate()
            PLACEMENT_RETRIES.inc()
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


def _limits(services: Services, stored: tuple[int | None, int | None] | None) -> UnitLimits:
    """The channel's unit limits: its own where set, else the settings' defaults."""
    per_line, per_customer = stored or (None, None)
    settings = services.settings
    return UnitLimits(
        per_line or settings.max_units_per_line,
        per_customer or settings.max_units_per_customer_sku,
    )


def _line_errors(code: E, found: list[LineRefusal]) -> list[ServiceError]:
    return [
        ServiceError(("input", "lines", str(r.index), "quantity"), code, r.message) for r in found
    ]


def _over_limits(
    data: PlaceOrderInput,
    records: dict[str, SkuRecord],
    open_units: dict[str, int],
    limits: UnitLimits | None,
) -> list[ServiceError]:
    """Lines whose amount would pass the largest amount stored (64 bits), then, for a caller
    the channel's limits bind (``limits``), lines over them."""
    too_much = amount_refusals(
        [(line.quantity, records[line.sku].price_minor) for line in data.lines], INT64_MAX
    )
    if too_much:
        return _line_errors(E.INVALID, too_much)
    if limits is None:
        return []
    asked = [(line.sku, line.quantity) for line in data.lines]
    return _line_errors(E.LIMIT_EXCEEDED, limit_refusals(asked, open_units, limits))


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
