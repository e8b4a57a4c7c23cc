"""Order placement: one governed intake for every channel.

``place_order`` is one transaction on a raw connection: claim the idempotency key, plan every
line from a snapshot (no locks), write the order, its lines, payment entries and events, and
only then take the contended pool rows with atomic conditional updates, in a fixed order, right
before COMMIT, so a hot row is locked for as short a time as possible. A lost race re-plans
from a fresh snapshot; after a few tries the line is reported sold out with what is possible.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from asyncpg.exceptions import DeadlockDetectedError, SerializationError

from app.domain.availability import PaymentTerms, PoolKind
from app.domain.placement import (
    LinePlan,
    LineRequest,
    LineState,
    PaymentKind,
    PlanError,
    consume,
    payment_at_placement,
    plan_line,
)
from app.services.allocation import settle
from app.services.availability import load_reference_data
from app.services.container import Services
from app.services.inventory import MAX_UNITS
from app.services.payments import GatewayResult, LedgerGateway, PaymentGateway
from app.services.results import Actor, Result, ServiceError
from app.storage import orders as store
from app.storage.allocation import lock_pools, unallocate
from app.storage.inventory import SkuRecord


class OrderErrorCode:
    INVALID = "INVALID"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    NOT_FOUND = "NOT_FOUND"
    NOT_CANCELLABLE = "NOT_CANCELLABLE"
    UNKNOWN_CARRIER_SERVICE = "UNKNOWN_CARRIER_SERVICE"


E = OrderErrorCode
POOL_LOCK_ORDER = {
    PoolKind.CHANNEL: 0,
    PoolKind.READY: 1,
    PoolKind.PRE_ORDER: 2,
    PoolKind.BACKORDER: 3,
}
MAX_ATTEMPTS = 4


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
    # The lines as ``store.LINE_SQL`` reads them, when placed now and none waits in a queue
    # (a queue position is computed when read); lets the answer skip reading them back.
    lines: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class CachedCredential:
    """An API key authenticated earlier and remembered by the caller (the compiled placeOrder
    path): placement checks, in its first statement, that the key row is still there,
    unrevoked, with the same secret, name and scopes (the actor ``auth.authenticate`` would
    make of it now), and raises ``CredentialChanged`` before anything else otherwise."""

    prefix: str
    secret_hash: str
    actor: Actor

    def still_valid(self, row: tuple[str, str, list[str]] | None) -> bool:
        if row is None:
            return False
        name, secret_hash, scopes = row
        return (
            hmac.compare_digest(secret_hash, self.secret_hash)
            and self.actor.name == f"key:{self.prefix}:{name}"
            and self.actor.scopes == frozenset(scopes)
        )


class CredentialChanged(Exception):
    """The cached credential no longer holds: nothing was done; authenticate afresh."""


class GatewayJournal:
    """The gateway calls of one attempt, so that a failed transaction gives the money back:
    a capture is refunded and an authorization voided, each by its reference."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway
        self.name = gateway.name
        self.done: list[tuple[PaymentKind, int, str, str]] = []

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        result = await self.gateway.execute(kind, amount_minor, currency, reference)
        if result.approved:
            self.done.append((kind, amount_minor, currency, result.reference))
        return result

    async def compensate(self) -> None:
        undo = {PaymentKind.CAPTURE: PaymentKind.REFUND, PaymentKind.AUTHORIZE: PaymentKind.VOID}
        for kind, amount, currency, reference in reversed(self.done):
            if kind in undo:
                await self.gateway.execute(undo[kind], amount, currency, reference)
        self.done.clear()


class _LostRace(Exception):
    """A conditional update found less than the snapshot promised: re-plan."""


def can_place_on(actor: Actor, channel_code: str, channel_kind: str) -> bool:
    if actor.has_scope("ops") or actor.has_scope(f"channel:{channel_code}"):
        return True
    return actor.has_scope("storefront") and channel_kind == "WEBSTORE"


MAX_TEXT = 1000


def clean_text(value: str | None, limit: int = MAX_TEXT) -> bool:
    """Free text PostgreSQL can store (no NUL) and of a sane length."""
    return value is None or ("\x00" not in value and len(value) <= limit)


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
    if len(data.lines) > 200:
        errors.append(ServiceError(("input", "lines"), E.INVALID, "At most 200 lines."))
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
    reference = await load_reference_data(services)
    if reference.transit(data.region, service) is not None:
        return []
    return [
        ServiceError(
            ("input", "shippingAddress", "carrierService"),
            E.UNKNOWN_CARRIER_SERVICE,
            f"No carrier service {service!r} in this region.",
        )
    ]


async def place_order(
    services: Services,
    actor: Actor,
    data: PlaceOrderInput,
    gateway: PaymentGateway | None = None,
    credential: CachedCredential | None = None,
) -> Result[Placed]:
    """Place one order (see the module). ``credential``: ``actor`` comes from a cached
    authentication, checked inside the transaction (``CachedCredential``)."""
    errors = _validate(data) or await _check_carrier_service(services, data)
    if errors:
        if credential is not None:  # unchecked: the key must be good before input errors
            raise CredentialChanged
        return Result(errors=errors)
    gateway = gateway or LedgerGateway()
    scope = f"{actor.name}|{data.channel}"
    request_hash = data.request_hash()
    last_errors: list[ServiceError] = []
    skus = sorted({line.sku for line in data.lines})
    for _attempt in range(MAX_ATTEMPTS):
        journal = GatewayJournal(gateway)
        try:
            async with store.PlacementTransaction(_write_pool(services)) as tx:
                conn = tx.conn
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
                channel = await _channel(services, conn, data.channel)
                if channel is None:
                    return Result.fail(
                        E.UNKNOWN_CHANNEL, f"No channel {data.channel!r}.", "input", "channel"
                    )
                if not can_place_on(actor, data.channel, channel["kind"]):
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
                plans, plan_errors = _plan(data, records, services, data.channel)
                if plan_errors:
                    # Stored under the key: a retry with the same key gets the same answer.
                    await store.complete_idempotency_key(
                        conn, scope, data.idempotency_key, None, [asdict(e) for e in plan_errors]
                    )
                    await tx.commit()
                    return Result(errors=plan_errors)
                placed, reservations = await _write(
                    conn, services, actor, data, channel, records, plans, journal, scope
                )
                # The contended part, last: conditional updates in one fixed order, then
                # COMMIT, in one message.
                if not await tx.reserve_and_commit(reservations):
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
    last_errors = [
        ServiceError(("input", "lines"), "SOLD_OUT", "Stock changed while placing; try again.")
    ]
    return Result(errors=last_errors)


def _write_pool(services: Services) -> Any:
    """The pool ``raw_uow`` draws from: placement runs its own transaction on it, because
    its COMMIT travels with the last pool update (``store.PlacementTransaction``)."""
    return services.raw_uow()._pool


async def _channel(services: Services, conn: Any, code: str) -> Any:
    """Channels change rarely: cached per replica like the other reference data."""
    key = f"channel:{code}"
    cached = services.cache.get(key)
    if cached is not None:
        return cached
    row = await store.channel_row(conn, code)
    if row is not None:
        services.cache.put(key, dict(row), services.settings.reference_cache_seconds)
    return row


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
            ServiceError(tuple(e["field"]) if e["field"] else None, e["code"], e["message"])
            for e in stored
        ],
        replayed=True,
    )


def _plan(
    data: PlaceOrderInput, records: dict[str, SkuRecord], services: Services, channel: str
) -> tuple[list[LinePlan], list[ServiceError]]:
    today = services.today()
    snapshots = {sku: rec.snapshot for sku, rec in records.items()}
    plans: list[LinePlan] = []
    errors: list[ServiceError] = []
    for i, line in enumerate(data.lines):
        request = LineRequest(
            i, line.sku, line.quantity, line.accept_backorder, line.accept_preorder
        )
        outcome = plan_line(snapshots[line.sku], request, today, channel)
        if isinstance(outcome, PlanError):
            errors.append(
                ServiceError(
                    ("input", "lines", str(i), "quantity"), outcome.code.value, outcome.message
                )
            )
            continue
        plans.append(outcome)
        snapshots[line.sku] = consume(snapshots[line.sku], outcome)
    return plans, errors


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


GROUP_OF_STATE = {LineState.READY: 1, LineState.PRE_ORDER: 2, LineState.BACKORDER: 3}


async def _write(
    conn: Any,
    services: Services,
    actor: Actor,
    data: PlaceOrderInput,
    channel: Any,
    records: dict[str, SkuRecord],
    plans: list[LinePlan],
    gateway: PaymentGateway,
    scope: str,
) -> tuple[Placed, list[tuple[int, int]]]:
    """Everything but the reservation: the order, its lines, payments and events.
    Returns the placed order and the pool updates ``(pool_id, quantity)`` to make last, in
    the fixed lock order (SKU, then CHANNEL, READY, PRE_ORDER, BACKORDER)."""
    now = services.now()
    states_used = sorted(
        {a.state for p in plans for a in p.allocations}, key=lambda s: GROUP_OF_STATE[s]
    )
    group_numbers = {state: n + 1 for n, state in enumerate(states_used)}
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
                    status="RESERVED" if a.state is LineState.READY else "WAITING",
                    pool_kind=a.pool.value,
                    pool_channel=a.channel,
                    unit_price_minor=record.price_minor,
                    payment_terms=terms.value,
                    shipment_group=1 if data.ship_together else group_numbers[a.state],
                    queued=a.state is not LineState.READY,
                )
            )
    tags = set()
    if any(line.state == "PRE_ORDER" for line in lines):
        tags.add("PREORDER")
    if any(line.state == "BACKORDER" for line in lines):
        tags.add("BACKORDER")
    if any("LIMITED_RUN" in records[line.sku].tags for line in lines):
        tags.add("LIMITED_RUN")
    if channel["priority"]:
        tags.add("PRIORITY")  # a priority customer is added in SQL, from the customer row
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
        # A storefront cannot prove who the customer is: an e-mail typed at checkout must not
        # buy priority handling. Channel integrations and ops can.
        trust_customer=actor.has_scope("ops")
        or any(s.startswith("channel:") for s in actor.scopes),
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
    if all(line.status == "RESERVED" for line in lines):  # no queue position to compute
        line_rows = store.placed_line_rows(order, lines)
    placed = Placed(order["id"], order["number"], token, replayed=False, row=order, lines=line_rows)
    return placed, reservations


class PaymentDeclined(Exception):
    pass


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class OrderFilter:
    state: str | None = None
    status: str | None = None
    tag: str | None = None
    channel: str | None = None
    sku: str | None = None
    placed_from: Any = None
    placed_to: Any = None


async def load_orders(services: Services, ids: list[Any]) -> dict[Any, Any]:
    async with services.read_pool.acquire() as conn:
        rows = await store.orders_by_id(conn, ids)
    return {row["id"]: row for row in rows}


async def order_id_by_number(services: Services, number: str) -> Any:
    async with services.read_pool.acquire() as conn:
        return await conn.fetchval("SELECT id FROM orders WHERE number = $1", number)


async def _grouped(
    services: Services,
    fetch: Callable[[Any, list[Any]], Awaitable[list[Any]]],
    order_ids: list[Any],
) -> dict[Any, list[Any]]:
    async with services.read_pool.acquire() as conn:
        rows = await fetch(conn, order_ids)
    grouped: dict[Any, list[Any]] = {oid: [] for oid in order_ids}
    for row in rows:
        grouped[row["order_id"]].append(row)
    return grouped


async def load_lines(services: Services, order_ids: list[Any]) -> dict[Any, list[Any]]:
    return await _grouped(services, store.lines_by_order, order_ids)


async def load_payments(services: Services, order_ids: list[Any]) -> dict[Any, list[Any]]:
    return await _grouped(services, store.payments_by_order, order_ids)


async def load_events(services: Services, order_ids: list[Any]) -> dict[Any, list[Any]]:
    return await _grouped(services, store.events_by_order, order_ids)


async def list_orders(
    services: Services,
    flt: OrderFilter,
    limit: int,
    after: tuple[Any, Any] | None,
    channel_only: str | None,
) -> list[Any]:
    """Orders newest first (keyset on placed_at, id); ``channel_only`` limits a channel key."""
    where = ["TRUE"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if channel_only is not None:
        where.append(f"o.channel_code = {arg(channel_only)}")
    if flt.channel:
        where.append(f"o.channel_code = {arg(flt.channel)}")
    if flt.status:
        where.append(f"o.status = {arg(flt.status)}")
    if flt.tag:
        where.append(f"{arg(flt.tag.strip().upper())} = ANY(o.tags)")
    if flt.placed_from is not None:
        where.append(f"o.placed_at >= {arg(flt.placed_from)}")
    if flt.placed_to is not None:
        where.append(f"o.placed_at < {arg(flt.placed_to)}")
    if flt.state or flt.sku:
        cond = ["l.order_id = o.id"]
        if flt.status != "CANCELLED":
            cond.append("l.status <> 'CANCELLED'")
        if flt.state:
            cond.append(f"l.state = {arg(flt.state)}")
        if flt.sku:
            cond.append(f"l.sku = {arg(flt.sku)}")
        where.append(f"EXISTS (SELECT 1 FROM order_lines l WHERE {' AND '.join(cond)})")
    if after is not None:
        where.append(f"(o.placed_at, o.id) < ({arg(after[0])}, {arg(after[1])})")
    sql = (
        f"SELECT {store.ORDER_COLUMNS} FROM orders o WHERE {' AND '.join(where)} "
        f"ORDER BY o.placed_at DESC, o.id DESC LIMIT {arg(limit)}"
    )
    async with services.read_pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


def token_matches(order: Any, token: str | None) -> bool:
    if not token:
        return False
    return secrets.compare_digest(order["token_hash"], hashlib.sha256(token.encode()).hexdigest())


# ---------------------------------------------------------------- cancellation


@dataclass(frozen=True)
class Cancelled:
    order_id: Any
    lines: int


async def cancel(
    services: Services,
    actor: Actor,
    order_id: Any,
    line_id: int | None,
    reason: str | None,
    gateway: PaymentGateway | None = None,
    *,
    delay_consent: str | None = None,
    as_owner: bool = False,
) -> Result[Cancelled]:
    """Cancel a whole order or one line (see ``_cancel_once``); retried when PostgreSQL
    resolves a deadlock with an admin write by aborting us (always before any gateway call).

    ``delay_consent`` records, on the cancelled lines, that the customer (or the store's
    no-answer policy) declined a delay; ``as_owner`` is for callers that already checked the
    caller may act on the order (a customer with the order token)."""
    for attempt in range(3):
        try:
            return await _cancel_once(
                services, actor, order_id, line_id, reason, gateway, delay_consent, as_owner
            )
        except DeadlockDetectedError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _cancel_once(
    services: Services,
    actor: Actor,
    order_id: Any,
    line_id: int | None,
    reason: str | None,
    gateway: PaymentGateway | None = None,
    delay_consent: str | None = None,
    as_owner: bool = False,
) -> Result[Cancelled]:
    """Cancel a whole order or one line: units go back to the pool they came from (ready
    stock to ATP, a pre-order place back under the cap, a backorder leaves its queue), and
    captured money is refunded, authorizations voided, in the payment ledger."""
    gateway = gateway or LedgerGateway()
    if not clean_text(reason):
        return Result.fail(E.INVALID, f"At most {MAX_TEXT} characters, no NUL bytes.", "reason")
    async with services.raw_uow() as uow:
        conn = uow.conn
        order = await conn.fetchrow(
            # NO KEY: allocation (under the pool locks we take next) inserts order events,
            # whose foreign key share-locks this row; FOR UPDATE would deadlock with it.
            "SELECT id, status, channel_code, currency FROM orders WHERE id = $1 FOR NO KEY UPDATE",
            order_id,
        )
        if order is None or not (as_owner or _may_manage(actor, order["channel_code"])):
            return Result.fail(E.NOT_FOUND, "No such order.", "id")
        lines = await conn.fetch(
            "SELECT l.id, l.sku, l.product_id, l.quantity, l.state, l.status, l.pool_kind, "
            "l.pool_channel, l.allocated, "
            "ip.id AS pool_id FROM order_lines l JOIN inventory_pools ip "
            "ON ip.product_id = l.product_id AND ip.kind = l.pool_kind "
            "AND ip.channel_code IS NOT DISTINCT FROM l.pool_channel "
            "WHERE l.order_id = $1 AND ($2::bigint IS NULL OR l.id = $2) ORDER BY l.id",
            order_id,
            line_id,
        )
        if line_id is not None and not lines:
            return Result.fail(E.NOT_FOUND, "No such line on this order.", "lineId")
        open_lines = [
            line for line in lines if line["status"] in ("RESERVED", "WAITING", "ALLOCATED")
        ]
        if not open_lines:
            return Result.fail(
                E.NOT_CANCELLABLE,
                "Nothing left to cancel on this order.",
                "id" if line_id is None else "lineId",
            )
        # Every pool row of these SKUs, now and in the one global order (SKU, then CHANNEL by
        # channel, READY, PRE_ORDER, BACKORDER, RESERVED): the releases and the READY
        # recompute below then lock nothing new, and no gateway call precedes a deadlock.
        await lock_pools(conn, list({line["product_id"] for line in open_lines}))
        # Ring-fenced units first go back to free stock; ``settle`` below hands them on.
        # Every open line: ``allocated`` was read before the pool locks, and a receipt may
        # have allocated to it since (the statement reads it afresh and skips 0).
        await unallocate(
            conn,
            [line["id"] for line in open_lines],
            "CANCELLATION",
            actor.name,
        )
        releases: dict[int, int] = {}
        lock_key: dict[int, tuple[str, int]] = {}
        for line in open_lines:
            releases[line["pool_id"]] = releases.get(line["pool_id"], 0) + line["quantity"]
            lock_key[line["pool_id"]] = (line["sku"], POOL_LOCK_ORDER[PoolKind(line["pool_kind"])])
        line_ids = [line["id"] for line in open_lines]
        # An answer to a delay (or the no-answer policy) cancels only while the delay still
        # waits for one: the customer may have accepted it since it was checked.
        cancelled = await conn.fetch(
            "UPDATE order_lines SET status = 'CANCELLED', updated_at = now(), "
            "delay_consent = COALESCE($2, delay_consent) WHERE id = ANY($1::bigint[]) "
            "AND ($2::text IS NULL OR delay_consent = 'REQUESTED') RETURNING id",
            line_ids,
            delay_consent,
        )
        if len(cancelled) != len(line_ids):
            return Result.fail(
                "NO_DELAY_PENDING",
                "This line has no delay waiting for an answer.",
                "input",
                "orderLineId",
            )
        entries = await _reverse_payments(
            conn, order_id, line_ids, order["currency"], gateway, reason
        )
        await store.insert_payment_entries(conn, order_id, entries)
        events: list[tuple[int | None, str, str, Any, Any]] = [
            (
                line["id"],
                "line.cancelled",
                actor.name,
                {"status": line["status"], "quantity": line["quantity"], "pool": line["pool_kind"]},
                {"status": "CANCELLED", "reason": reason},
            )
            for line in open_lines
        ]
        remaining = await conn.fetchval(
            "SELECT count(*) FROM order_lines WHERE order_id = $1 AND status <> 'CANCELLED'",
            order_id,
        )
        if remaining == 0:
            await conn.execute(
                "UPDATE orders SET status = 'CANCELLED', updated_at = now() WHERE id = $1", order_id
            )
            events.append(
                (
                    None,
                    "order.cancelled",
                    actor.name,
                    {"status": order["status"]},
                    {"status": "CANCELLED", "reason": reason},
                )
            )
        await store.insert_events(conn, order_id, events)
        # Same lock order as placement (SKU, then CHANNEL, READY, PRE_ORDER, BACKORDER).
        for pool_id in sorted(releases, key=lambda pid: lock_key[pid]):
            if not await store.release(conn, pool_id, releases[pool_id]):
                raise RuntimeError(f"pool {pool_id} would go below zero: ledger drift")
        # Freed units go to the next in line before anything re-opens for sale; READY and the
        # channel holds are recomputed, the SKUs' promises follow, caches are told.
        await settle(
            conn,
            services,
            sorted({line["product_id"] for line in open_lines}),
            "CANCELLATION",
            actor.name,
        )
        await uow.commit()
    return Result(Cancelled(order_id, len(open_lines)))


async def _reverse_payments(
    conn: Any,
    order_id: Any,
    line_ids: list[int],
    currency: str,
    gateway: PaymentGateway,
    reason: str | None,
) -> list[tuple[int | None, str, int, str, str, str, Any, str | None]]:
    """Refund each capture and void the live authorization of every cancelled line, each by
    the reference the gateway gave it (a real PSP needs it)."""
    rows = await conn.fetch(
        "SELECT id, line_id, kind, amount_minor, reference FROM payment_entries "
        "WHERE order_id = $1 AND line_id = ANY($2::bigint[]) ORDER BY line_id, id",
        order_id,
        line_ids,
    )
    by_line: dict[int, list[Any]] = {}
    for row in rows:
        by_line.setdefault(row["line_id"], []).append(row)
    entries: list[tuple[int | None, str, int, str, str, str, Any, str | None]] = []
    for lid in line_ids:
        history = by_line.get(lid, [])
        # A line is cancelled once (only open lines get here): every capture is refunded.
        to_undo = [(PaymentKind.REFUND, r) for r in history if r["kind"] == "CAPTURE"]
        auths = [r for r in history if r["kind"] in ("AUTHORIZE", "REAUTHORIZE")]
        if auths and not any(r["kind"] == "VOID" and r["id"] > auths[-1]["id"] for r in history):
            to_undo.append((PaymentKind.VOID, auths[-1]))
        for kind, original in to_undo:
            amount = int(original["amount_minor"])
            result = await gateway.execute(kind, amount, currency, original["reference"])
            note = f"{kind.value.lower()} of {original['reference']}" + (
                f": {reason}" if reason else ""
            )
            entries.append(
                (lid, kind.value, amount, currency, gateway.name, result.reference, None, note)
            )
    return entries


def _may_manage(actor: Actor, channel_code: str) -> bool:
    return actor.has_scope("ops") or actor.has_scope(f"channel:{channel_code}")


async def tag_order(
    services: Services, actor: Actor, order_id: Any, add: list[str], remove: list[str]
) -> Result[Any]:
    if not all(clean_text(t, 64) for t in [*add, *remove]):
        return Result.fail(
            E.INVALID, "Tags are at most 64 characters, no NUL bytes.", "input", "add"
        )
    clean_add = sorted({t.strip().upper() for t in add if t.strip()})
    clean_remove = sorted({t.strip().upper() for t in remove if t.strip()})
    if not clean_add and not clean_remove:
        return Result.fail(E.INVALID, "Give tags to add or remove.", "input", "add")
    async with services.raw_uow() as uow:
        # NO KEY: the pool locks below come after it (allocation share-locks order rows)
        row = await uow.conn.fetchrow(
            "SELECT tags, channel_code FROM orders WHERE id = $1 FOR NO KEY UPDATE", order_id
        )
        if row is None or not _may_manage(actor, row["channel_code"]):
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "id")
        before = sorted(row["tags"])
        after = sorted((set(before) | set(clean_add)) - set(clean_remove))
        await uow.conn.execute(
            "UPDATE orders SET tags = $2, updated_at = now() WHERE id = $1", order_id, after
        )
        await store.insert_events(
            uow.conn,
            order_id,
            [(None, "order.tagged", actor.name, {"tags": before}, {"tags": after})],
        )
        if "PRIORITY" in set(before) ^ set(after):
            # Under PRIORITY_FIRST the order's waiting lines moved in their queues: the next
            # units follow the new order and every line of those SKUs is re-promised.
            moved = await uow.conn.fetch(
                "SELECT DISTINCT l.product_id FROM order_lines l "
                "JOIN products p ON p.id = l.product_id WHERE l.order_id = $1 "
                "AND l.status = 'WAITING' AND p.allocation_policy = 'PRIORITY_FIRST' ORDER BY 1",
                order_id,
            )
            product_ids = [r["product_id"] for r in moved]
            if product_ids:
                await lock_pools(uow.conn, product_ids)
                await settle(uow.conn, services, product_ids, "PRIORITY_CHANGED", actor.name)
        await uow.commit()
    return Result(order_id)


async def set_customer_priority(
    services: Services, actor: Actor, email: str, priority: bool
) -> Result[bool]:
    async with services.raw_uow() as uow:
        before = await uow.conn.fetchval(
            "SELECT priority FROM customers WHERE email = $1 FOR UPDATE", email
        )
        if before is None:
            return Result.fail(E.NOT_FOUND, f"No customer {email!r}.", "email")
        await uow.conn.execute(
            "UPDATE customers SET priority = $2 WHERE email = $1", email, priority
        )
        await uow.conn.execute(
            "INSERT INTO audit_events (entity, entity_id, action, actor, before, after) "
            "VALUES ('customer', $1, 'customer.priority_set', $2, $3::jsonb, $4::jsonb)",
            email,
            actor.name,
            orjson.dumps({"priority": before}).decode(),
            orjson.dumps({"priority": priority}).decode(),
        )
        await uow.commit()
    return Result(priority)


# ---------------------------------------------------------------- authorization renewal

RENEWABLE_SQL = """
WITH current_auth AS (
    SELECT DISTINCT ON (pe.line_id)
           pe.id, pe.line_id, pe.order_id, pe.kind, pe.amount_minor, pe.currency, pe.reference,
           pe.expires_at
    FROM payment_entries pe
    JOIN order_lines l ON l.id = pe.line_id
    WHERE l.status = 'WAITING' AND pe.kind IN ('AUTHORIZE', 'REAUTHORIZE')
    ORDER BY pe.line_id, pe.id DESC
)
SELECT a.*, p.release_date, l.state
FROM current_auth a
JOIN order_lines l ON l.id = a.line_id
JOIN products p ON p.id = l.product_id
WHERE a.expires_at <= $1 AND l.status = 'WAITING'
  AND NOT EXISTS (SELECT 1 FROM payment_entries v
                  WHERE v.line_id = a.line_id AND v.kind = 'VOID' AND v.id > a.id)
ORDER BY a.line_id
FOR UPDATE OF l SKIP LOCKED
"""


async def renew_authorizations(
    services: Services,
    actor: Actor,
    within: timedelta = timedelta(days=1),
    gateway: PaymentGateway | None = None,
) -> Result[int]:
    """Re-authorize waiting lines whose authorization expires within ``within``: a new
    authorization is taken and the old one voided, so a pre-order whose release is further
    away than an authorization lasts is still covered when it ships. Safe to run on several
    replicas at once (``SKIP LOCKED``)."""
    gateway = gateway or LedgerGateway()
    now = services.now()
    valid = timedelta(days=services.settings.authorization_valid_days)
    renewed = 0
    async with services.raw_uow() as uow:
        rows = await uow.conn.fetch(RENEWABLE_SQL, now + within)
        for row in rows:
            amount = int(row["amount_minor"])
            new = await gateway.execute(PaymentKind.REAUTHORIZE, amount, row["currency"], None)
            if not new.approved:
                continue
            old = await gateway.execute(PaymentKind.VOID, amount, row["currency"], row["reference"])
            await store.insert_payment_entries(
                uow.conn,
                row["order_id"],
                [
                    # the VOID first: the renewal must be the newest entry of the line
                    (
                        row["line_id"],
                        "VOID",
                        amount,
                        row["currency"],
                        gateway.name,
                        old.reference,
                        None,
                        f"replaced by {new.reference}",
                    ),
                    (
                        row["line_id"],
                        "REAUTHORIZE",
                        amount,
                        row["currency"],
                        gateway.name,
                        new.reference,
                        now + valid,
                        f"renews {row['reference']}",
                    ),
                ],
            )
            await store.insert_events(
                uow.conn,
                row["order_id"],
                [
                    (
                        row["line_id"],
                        "payment.reauthorized",
                        actor.name,
                        {"reference": row["reference"], "expiresAt": row["expires_at"].isoformat()},
                        {"reference": new.reference, "expiresAt": (now + valid).isoformat()},
                    )
                ],
            )
            renewed += 1
        await uow.commit()
    return Result(renewed)
