"""One attempt at an intake payload, and the jobs that retry and purge them.

An attempt reads the payload with its channel's adapter, applies the channel's and the
account's rules, maps the channel's SKU codes, and places the order with ``place_order``
under the idempotency key ``<external id>`` (``#<n>`` after the n-th replay of a refused
one), so any number of concurrent or repeated attempts make one order. The outcome is
classified: ACCEPTED; INVALID (the payload or placement refused it: permanent, the sender is
told why); RETRYING (the database unavailable, a deadlock, a lock or statement timeout, or an
unexpected error: tried again with exponential back-off and jitter); DEAD once
``OMS_INTAKE_MAX_ATTEMPTS`` attempts have failed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog

from app.domain.events import EventKind
from app.domain.intake import IntakeOrder, Refusal, RefusalCode
from app.domain.intake.adapters import ADAPTERS, Adapter
from app.domain.intake.adapters.fields import MAX_DIGITS
from app.domain.intake.adapters.till import receipt_from_raw
from app.domain.intake.impact import impact_score
from app.domain.intake.rules import IntakeRules, apply, check, merged
from app.domain.notifications import retry_delay
from app.metrics import INTAKE_MESSAGES
from app.services.container import Services
from app.services.orders.placement import LineInput, PlaceOrderInput, Terms, place_order
from app.services.results import Actor
from app.storage import intake as store
from app.storage.database import is_transient

log = structlog.stdlib.get_logger("app.intake")

LEASE = timedelta(seconds=60)
"""A first attempt not recorded within this (its process died) is the retry job's."""
RETRY_BATCH = 50
CONFIG_SECONDS = 5.0

EVENT_OF = {
    "ACCEPTED": EventKind.INTAKE_ACCEPTED,
    "INVALID": EventKind.INTAKE_REJECTED,
    "RETRYING": EventKind.INTAKE_RETRYING,
    "DEAD": EventKind.INTAKE_DEAD,
}
METRIC_OF = {"ACCEPTED": "accepted", "INVALID": "rejected", "RETRYING": "retrying", "DEAD": "dead"}


def intake_actor(channel: str) -> Actor:
    """Who places an intake order: the channel's integration (its limits bind it)."""
    return Actor(f"intake:{channel}", frozenset({f"channel:{channel}"}))


@dataclass(frozen=True)
class Reply:
    """What the sender is told about one payload."""

    status: str  # ACCEPTED, INVALID, RETRYING, DEAD, DISCARDED
    message_id: int | None
    external_id: str | None
    order_id: Any = None
    order_number: str | None = None
    refusals: tuple[Refusal, ...] = ()
    retry_at: datetime | None = None
    duplicate: bool = False

    def errors(self) -> list[dict[str, Any]]:
        return [refusal_json(r) for r in self.refusals]


def refusal_json(refusal: Refusal) -> dict[str, Any]:
    return {
        "field": refusal.field,
        "code": refusal.code.value,
        "message": refusal.message,
        "detail": refusal.detail,
    }


def refusals_from_json(stored: list[Any] | None) -> tuple[Refusal, ...]:
    return tuple(
        Refusal(e.get("field"), RefusalCode(e["code"]), e["message"], e.get("detail"))
        for e in stored or ()
        if isinstance(e, dict) and e.get("code") in RefusalCode.__members__
    )


async def channel_config(services: Services, channel: str) -> store.ChannelIntake | None:
    """The channel's intake configuration (cached a few seconds per replica)."""
    key = f"intake:{channel}"
    cached = services.cache.get(key)
    if isinstance(cached, store.ChannelIntake):
        return cached
    async with services.read() as conn:
        found = await store.channel_intake(conn, channel)
    if found is not None:
        services.cache.put(key, found, CONFIG_SECONDS)
    return found


def decode(payload: bytes) -> Any:
    """The JSON document, or None when it is not JSON."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


@dataclass
class _Context:
    """What an attempt learned of the order, for ranking it should it fail."""

    currency: str | None = None
    value_minor: int | None = None
    units: int | None = None
    deadline: datetime | None = None
    account: str | None = None
    external_id: str | None = None
    refusals: list[Refusal] = field(default_factory=list)


async def attempt(
    services: Services,
    cfg: store.ChannelIntake,
    message_id: int,
    document: Any,
    received_at: datetime,
    replay_no: int,
    attempts_before: int,
) -> Reply:
    """Try once to turn a stored payload into an order, record the outcome (with its
    event), and say what the sender is told."""
    adapter = ADAPTERS[cfg.adapter]
    ctx = _Context(
        deadline=received_at + timedelta(hours=cfg.sla_hours),
        external_id=adapter.external_id(document) if document is not None else None,
    )
    read = (
        adapter.read(document)
        if document is not None
        else [Refusal(None, RefusalCode.MALFORMED, "The body is not JSON.")]
    )
    if isinstance(read, list):
        return await _record(services, cfg, message_id, "INVALID", ctx, refusals=read)
    order = read
    ctx.external_id, ctx.account, ctx.units = order.external_id, order.account, order.units
    ctx.deadline = order.ship_by or ctx.deadline
    try:
        placed = await _place(services, cfg, adapter, order, ctx, replay_no)
    except Exception as exc:
        return await _failed(services, cfg, message_id, ctx, exc, attempts_before)
    if placed is None:
        return await _record(services, cfg, message_id, "INVALID", ctx, refusals=ctx.refusals)
    order_id, number = placed
    return await _record(services, cfg, message_id, "ACCEPTED", ctx, order=(order_id, number))


async def _place(
    services: Services,
    cfg: store.ChannelIntake,
    adapter: Adapter,
    order: IntakeOrder,
    ctx: _Context,
    replay_no: int,
) -> tuple[Any, str] | None:
    """Rules, SKU map and placement: the order placed (id, number), or None with the
    refusals in ``ctx``. Raises what the database raised."""
    codes = sorted({ln.sku for ln in order.lines})
    async with services.read() as conn:
        found = await store.lookup(conn, cfg.code, order.account, codes)
    mapping, prices = found.mapping, found.prices
    ours = [mapping.get(ln.sku, ln.sku) for ln in order.lines]
    rules = merged(cfg.rules, found.account_rules)
    order = apply(order, rules)
    ctx.refusals = check(order, rules)
    for i, line in enumerate(order.lines):
        if adapter.maps_skus and line.sku not in mapping:
            ctx.refusals.append(
                Refusal(
                    f"lines[{i}].sku",
                    RefusalCode.UNMAPPED_SKU,
                    f"{line.sku!r} is not in this channel's SKU map.",
                )
            )
    _value(order, ours, prices, ctx)
    if ctx.refusals:
        return None
    key = order.external_id if replay_no == 0 else f"{order.external_id}#{replay_no}"
    data = PlaceOrderInput(
        idempotency_key=key,
        channel=cfg.code,
        customer_email=order.customer_email or "",
        customer_name=order.customer_name or "",
        lines=tuple(
            LineInput(sku, ln.quantity, ln.accept_backorder, ln.accept_preorder)
            for sku, ln in zip(ours, order.lines, strict=True)
        ),
        region=order.region,
        postal_code=order.postal_code,
        address=dict(order.address),
        ship_together=order.ship_together,
    )
    result = await place_order(
        services,
        intake_actor(cfg.code),
        data,
        terms=_terms(services, rules),
    )
    if result.value is None:
        ctx.refusals = [
            Refusal(
                ".".join(e.field[1:]) if e.field else None,
                RefusalCode.PLACEMENT,
                e.message,
                e.code.value,
            )
            for e in result.errors
        ]
        return None
    number = result.value.number
    if not number:  # a replayed placement answers with the id only
        async with services.read() as conn:
            number = await store.order_number(conn, result.value.order_id) or ""
    return result.value.order_id, number


def _terms(services: Services, rules: IntakeRules) -> Terms:
    return Terms(
        exempt_from_limits=not rules.enforce_customer_limits,
        lock_timeout_ms=services.settings.intake_lock_timeout_ms,
    )


def _value(
    order: IntakeOrder, ours: list[str], prices: dict[str, tuple[int, str]], ctx: _Context
) -> None:
    """The order's value (as the channel declares it, else at our prices) and currency, and
    a refusal for a line priced in another currency than the channel sold it in."""
    currencies = {prices[s][1] for s in ours if s in prices}
    ctx.currency = order.currency or (min(currencies) if currencies else None)
    ctx.value_minor = order.declared_total_minor
    if ctx.value_minor is None:
        ctx.value_minor = sum(
            prices[s][0] * ln.quantity
            for s, ln in zip(ours, order.lines, strict=True)
            if s in prices
        )
    if order.currency is not None:
        for i, sku in enumerate(ours):
            if sku in prices and prices[sku][1] != order.currency:
                ctx.refusals.append(
                    Refusal(
                        f"lines[{i}]",
                        RefusalCode.INVALID_FIELD,
                        f"Sold in {order.currency}, but {sku} is priced in {prices[sku][1]}.",
                    )
                )


async def _failed(
    services: Services,
    cfg: store.ChannelIntake,
    message_id: int,
    ctx: _Context,
    exc: Exception,
    attempts_before: int,
) -> Reply:
    settings = services.settings
    attempts = attempts_before + 1
    if is_transient(exc):
        code, why = "TRANSIENT", f"The database could not take it now ({type(exc).__name__})."
        log.warning(
            "intake_attempt_failed",
            channel=cfg.code,
            message=message_id,
            error=type(exc).__name__,
            attempts=attempts,
        )
    else:  # a defect: logged whole; retried, in case a fix is deployed meanwhile
        code, why = "INTERNAL", "An unexpected error; it is being looked into."
        log.exception("intake_attempt_error", channel=cfg.code, message=message_id)
    if attempts >= settings.intake_max_attempts:
        return await _record(services, cfg, message_id, "DEAD", ctx, error=(code, why))
    delay = retry_delay(
        attempts,
        settings.intake_retry_base_seconds,
        settings.intake_retry_max_seconds,
        random.random(),  # jitter, not security
    )
    retry_at = services.now() + timedelta(seconds=delay)
    return await _record(
        services, cfg, message_id, "RETRYING", ctx, error=(code, why), retry_at=retry_at
    )


async def _record(
    services: Services,
    cfg: store.ChannelIntake,
    message_id: int,
    status: str,
    ctx: _Context,
    *,
    refusals: list[Refusal] | None = None,
    order: tuple[Any, str] | None = None,
    error: tuple[str, str] | None = None,
    retry_at: datetime | None = None,
) -> Reply:
    """Record the outcome and its event in one transaction. When the database cannot take
    even that, the payload stays in line (its lease runs out and the retry job takes it):
    the sender is told what this attempt found, which a later attempt finds again."""
    now = services.now()
    found = tuple(refusals or ())
    if found and error is None:
        error = (found[0].code.value, found[0].message)
    digits = MAX_DIGITS.get(ctx.currency or "", 2)
    outcome = store.Outcome(
        status=status,
        now=now,
        order_id=order[0] if order else None,
        errors=[refusal_json(r) for r in found] if status == "INVALID" else None,
        error_code=error[0] if error and status != "ACCEPTED" else None,
        error_message=error[1] if error and status != "ACCEPTED" else None,
        next_attempt_at=retry_at,
        currency=ctx.currency,
        value_minor=ctx.value_minor,
        units=ctx.units,
        sla_deadline=ctx.deadline,
        impact_score=impact_score(ctx.value_minor, digits, ctx.units, ctx.deadline, now),
        external_id=ctx.external_id,
        account=ctx.account,
    )
    row = None
    try:
        async with services.write() as conn:  # one statement: the outcome and its event
            row = await store.record_outcome(
                conn, message_id, outcome, _event(cfg.code, ctx, status, outcome, found, error)
            )
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning(
            "intake_outcome_unrecorded",
            channel=cfg.code,
            message=message_id,
            error=type(exc).__name__,
        )
    if row is None and order is None:  # ACCEPTED meanwhile by a duplicate: that answer stands
        async with services.read() as conn:
            current = (await store.by_ids(conn, [message_id]) or [None])[0]
        if current is not None and current["status"] == "ACCEPTED":
            return reply_from_row(current, duplicate=True)
    INTAKE_MESSAGES.labels(cfg.code, METRIC_OF[status]).inc()
    return Reply(
        status=status,
        message_id=message_id,
        external_id=ctx.external_id,
        order_id=order[0] if order else None,
        order_number=order[1] if order else None,
        refusals=found,
        retry_at=retry_at,
    )


def _event(
    channel: str,
    ctx: _Context,
    status: str,
    outcome: store.Outcome,
    refusals: tuple[Refusal, ...],
    error: tuple[str, str] | None,
) -> tuple[str, str, dict[str, Any]]:
    """The outcome's event: ``(kind, actor, payload)`` (storage adds the attempts)."""
    payload: dict[str, Any] = {"channel": channel, "externalId": ctx.external_id, "status": status}
    if error is not None and status != "ACCEPTED":
        payload["errorCode"] = error[0]
    if refusals:
        payload["errors"] = [refusal_json(r) for r in refusals[:10]]
    if status == "RETRYING":
        payload["nextAttemptAt"] = outcome.next_attempt_at
    if status != "ACCEPTED":
        payload["impactScore"] = outcome.impact_score
    return EVENT_OF[status].value, f"intake:{channel}", payload


def reply_from_row(row: Any, duplicate: bool = False) -> Reply:
    return Reply(
        status=row["status"],
        message_id=row["id"],
        external_id=row["external_id"],
        order_id=row["order_id"],
        order_number=row["order_number"],
        refusals=refusals_from_json(
            orjson.loads(row["errors"]) if isinstance(row["errors"], str) else row["errors"]
        ),
        retry_at=row["next_attempt_at"] if row["status"] == "RETRYING" else None,
        duplicate=duplicate,
    )


# ---------------------------------------------------------------- jobs


async def retry_due(services: Services, actor: Actor) -> dict[str, int]:
    """The RETRY_INTAKE job: attempt every payload whose next attempt is due (and first
    attempts whose process died), a batch at a time."""
    now = services.now()
    async with services.uow() as uow:
        ids = await store.claim_due(uow.conn, now, now + LEASE, RETRY_BATCH)
        await uow.commit()
    counts: dict[str, int] = {}
    for message_id in ids:
        reply = await retry_one(services, message_id)
        if reply is not None:
            counts[reply.status] = counts.get(reply.status, 0) + 1
    return counts


async def retry_one(services: Services, message_id: int) -> Reply | None:
    async with services.read() as conn:
        row = await store.payload_of(conn, message_id)
    if row is None or row["payload"] is None or row["status"] not in store.OPEN:
        return None
    cfg = await channel_config(services, row["channel_code"])
    if cfg is None or cfg.adapter not in ADAPTERS:
        return None
    document = _document(cfg, row["payload"])
    return await attempt(
        services,
        cfg,
        message_id,
        document,
        row["received_at"],
        row["replay_no"],
        row["attempts"],
    )


def _document(cfg: store.ChannelIntake, payload: bytes) -> Any:
    """A stored payload decoded again (a till receipt of a batch is stored as its raw rows)."""
    document = decode(payload)
    if cfg.adapter == "TILL" and not (isinstance(document, dict) and "rows" in document):
        return receipt_from_raw(payload.decode("utf-8", "replace"))
    return document


async def purge_payloads(services: Services, actor: Actor) -> dict[str, int]:
    """The PURGE_INTAKE_PAYLOADS job: empty raw payloads older than the retention period."""
    now = services.now()
    before = now - timedelta(days=services.settings.intake_retention_days)
    async with services.uow() as uow:
        messages, batches = await store.purge(uow.conn, before, now)
        await uow.commit()
    return {"messages": messages, "batches": batches}
