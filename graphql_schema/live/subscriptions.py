"""GraphQL subscriptions (graphql-transport-ws, and graphql-ws): order events for ops
dashboards, delivery-estimate changes for storefronts and ops, and availability for PDPs.

Callers authenticate once, in the connection params (``authorization``: an API key; and/or
``orderToken`` / ``orderTokens``: the tokens of orders a storefront or a customer holds).
Every event is checked again with the one policy before it is sent.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncGenerator
from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.domain.events import EventKind
from app.services import availability as availability_service
from app.services import policy
from app.services.live import EventContext, LiveHub, Position, position_of
from app.services.orders.reads import token_hash
from app.services.reference import load_reference
from app.services.results import Actor
from app.storage.inventory import SkuRecord
from graphql_schema.auth import current_actor
from graphql_schema.context import Context, Loaders
from graphql_schema.enums import EstimateConfidence, LineState, PromiseCause
from graphql_schema.errors import AuthenticationError, PermissionDenied, PublicError, argument_error
from graphql_schema.inventory.types import Availability, DeliveryEstimate
from graphql_schema.orders.types import Event, Order, OrderLine, line_of
from graphql_schema.relay import split_global_id

SLOW_CONSUMER = 4429
"""Close code for a subscriber whose queue overflowed: it did not keep up."""

ESTIMATE_KINDS = frozenset({EventKind.LINE_DELIVERY_DELAYED, EventKind.LINE_PROMISE_CHANGED})


def _hub(info: Info[Context, Any]) -> LiveHub:
    hub = info.context.live
    if hub is None:
        raise PublicError("Live updates are not running on this server.", "UNAVAILABLE")
    return hub


def _tokens(info: Info[Context, Any], *extra: str | None) -> frozenset[str]:
    """Hashes of the order tokens the caller holds (connection params and arguments)."""
    params = info.context.connection_params or {}
    given: list[Any] = [params.get("orderToken"), *extra]
    many = params.get("orderTokens")
    if isinstance(many, list):
        given.extend(many)
    return frozenset(token_hash(t) for t in given if isinstance(t, str) and t)


def _visible(actor: Actor | None, tokens: frozenset[str], ctx: EventContext) -> bool:
    return ctx.channel is not None and policy.may_read_order(
        actor, ctx.channel, ctx.token_hash in tokens
    )


async def _close_slow(info: Info[Context, Any]) -> None:
    socket = info.context.request
    close = getattr(socket, "close", None)
    if close is not None:
        await close(code=SLOW_CONSUMER, reason="subscriber too slow: events were dropped")


def _event_position(info: Info[Context, Any], after: str | None) -> int | None:
    if after is None:
        return None
    parts = split_global_id(after)
    if parts is None or parts[0] != "Event" or not parts[1].isdigit():
        raise PublicError("`after` is not an Event ID.", "INVALID_CURSOR", ["after"])
    return int(parts[1])


async def _follow(
    info: Info[Context, Any],
    kind: str,
    accepts: Any,
    after: str | None,
) -> AsyncGenerator[tuple[Any, EventContext], None]:
    """The events ``accepts`` lets through: those after ``after`` from the ledger (replayed),
    then live, each exactly once. A bad ``after`` is refused here, before the stream."""
    hub = _hub(info)
    start: Position | None = None
    event_id = _event_position(info, after)
    if event_id is not None:
        start = await hub.position_of(event_id)
        if start is None:
            raise PublicError("No such event.", "INVALID_CURSOR", ["after"])

    async def stream() -> AsyncGenerator[tuple[Any, EventContext], None]:
        # registered at the stream's first step: one that never starts leaves nothing behind
        subscriber = hub.event_subscriber(kind, accepts, start)
        until = hub.position
        try:
            if start is not None and start < until:
                async for row, ctx in hub.replay(start, until):
                    if accepts(row, ctx):
                        yield row, ctx
            floor = start
            if floor is None:
                # live from now: not what committed before, which the hub may not have read yet
                floor = await hub.head()
                subscriber.after = max(subscriber.after, floor)
            while True:
                item = await subscriber.queue.get()
                if subscriber.overflowed:
                    await _close_slow(info)
                    return
                if position_of(item[0]) > floor:
                    yield item
        finally:
            hub.drop_event_subscriber(subscriber)

    return stream()


def _fresh(info: Info[Context, Any]) -> None:
    """A socket's context lives as long as the socket: what its loaders read is stale by the
    next event."""
    info.context.loaders = Loaders(info.context.services)


@strawberry.input(description="Which order events an ops screen wants; all when empty.")
class OrderEventFilterInput:
    channel: str | None = None
    states: list[LineState] | None = strawberry.field(
        default=None, description="Lines in these states, and orders that have such lines."
    )
    kinds: list[EventKind] | None = None
    sku: str | None = strawberry.field(
        default=None, description="Lines of this SKU, and orders that have such lines."
    )


@strawberry.type(description="A waiting line's window moved: from what to what, and why.")
class DeliveryEstimateChange:
    event: Event
    previous: DeliveryEstimate
    current: DeliveryEstimate
    cause: PromiseCause | None
    delayed_days: int = strawberry.field(description="Days later than before (0: not later).")
    consent_requested: bool = strawberry.field(
        description="The delay is past the store's threshold: the customer is asked to accept "
        "it or cancel (respondToDelay); their time to answer starts when the delay e-mail is "
        "sent (the line's consentDueAt)."
    )
    _order_id: strawberry.Private[Any]
    _line_id: strawberry.Private[int]

    @strawberry.field
    async def line(self, info: Info[Context, Any]) -> OrderLine | None:
        return await line_of(info, self._order_id, self._line_id)

    @strawberry.field
    async def order(self, info: Info[Context, Any]) -> Order | None:
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row) if row else None


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def _change(row: Any) -> DeliveryEstimateChange:
    event = Event.from_row(row)
    payload: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    before: dict[str, Any] = event.before if isinstance(event.before, dict) else {}
    confidence = payload.get("confidence")
    return DeliveryEstimateChange(
        event=event,
        previous=DeliveryEstimate(
            earliest=_day(before.get("earliest")), latest=_day(before.get("latest")), reason=None
        ),
        current=DeliveryEstimate(
            earliest=_day(payload.get("earliest")),
            latest=_day(payload.get("latest")),
            reason=payload.get("reason"),
            confidence=EstimateConfidence(confidence) if confidence else None,
        ),
        cause=PromiseCause(payload["cause"]) if payload.get("cause") else None,
        delayed_days=int(payload.get("delayedDays") or 0),
        consent_requested=bool(payload.get("consentRequested")),
        _order_id=row["order_id"],
        _line_id=row["line_id"],
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Every order and queue event the caller may see (ops: all; a channel "
        "key: its channel's; order tokens in the connection params: those orders): placed, "
        "allocated, paused, resumed, delayed, shipped, cancelled, ... `after` (an Event ID) "
        "replays what a reconnecting client missed from the ledger, then continues live."
    )
    async def order_events(
        self,
        info: Info[Context, Any],
        filter: OrderEventFilterInput | None = None,
        after: strawberry.ID | None = None,
    ) -> AsyncGenerator[Event, None]:
        actor = await current_actor(info)
        tokens = _tokens(info)
        if actor is None and not tokens:
            raise AuthenticationError("An API key or an order token is required.")
        if actor is not None and not (policy.may_manage_orders(actor) or tokens):
            raise PermissionDenied("Order events need the 'ops' or a channel scope, or tokens.")
        flt = filter or OrderEventFilterInput()
        kinds = frozenset(k.value for k in flt.kinds) if flt.kinds else None
        states = frozenset(s.value for s in flt.states) if flt.states else None

        def accepts(row: Any, ctx: EventContext) -> bool:
            if row["order_id"] is None or not _visible(actor, tokens, ctx):
                return False
            if kinds is not None and row["kind"] not in kinds:
                return False
            if flt.channel is not None and ctx.channel != flt.channel:
                return False
            if flt.sku is not None and flt.sku not in ctx.skus:
                return False
            return states is None or bool(states & ctx.states)

        source = await _follow(info, "orderEvents", accepts, after)

        async def stream() -> AsyncGenerator[Event, None]:
            async for row, _ctx in source:
                _fresh(info)
                _hub(info).delivered("orderEvents")
                yield Event.from_row(row)

        return stream()

    @strawberry.subscription(
        description="A line's delivery window moved (later, earlier, or it got or lost its "
        "dates). Follow an order (with its token on a storefront), or, with an ops or channel "
        "key, a SKU."
    )
    async def delivery_estimate_changed(
        self,
        info: Info[Context, Any],
        order_id: strawberry.ID | None = None,
        order_token: str | None = None,
        sku: str | None = None,
    ) -> AsyncGenerator[DeliveryEstimateChange, None]:
        actor = await current_actor(info)
        tokens = _tokens(info, order_token)
        if actor is None and not tokens:
            raise AuthenticationError("An API key or the order token is required.")
        if sku is not None and not policy.may_read_internals(actor):
            raise PermissionDenied("Following a SKU needs the 'ops' or a channel scope.")
        order: uuid.UUID | None = None
        if order_id is not None:
            parts = split_global_id(order_id)
            try:
                order = uuid.UUID(parts[1]) if parts and parts[0] == "Order" else None
            except ValueError:
                order = None
            if order is None:
                raise PublicError("`orderId` is not an Order ID.", "NOT_FOUND", ["orderId"])

        def accepts(row: Any, ctx: EventContext) -> bool:
            if row["kind"] not in ESTIMATE_KINDS or not _visible(actor, tokens, ctx):
                return False
            if order is not None and row["order_id"] != order:
                return False
            return sku is None or sku in ctx.skus

        source = await _follow(info, "deliveryEstimateChanged", accepts, None)

        async def stream() -> AsyncGenerator[DeliveryEstimateChange, None]:
            async for row, _ctx in source:
                _fresh(info)
                _hub(info).delivered("deliveryEstimateChanged")
                yield _change(row)

        return stream()

    @strawberry.subscription(
        description="What a PDP shows (the same fields as productAvailability), sent now and "
        "again each time it changes for these arguments; changes close together are sent "
        "once. A bad argument is this field's error."
    )
    async def availability_changed(
        self,
        info: Info[Context, Any],
        sku: str,
        quantity: int = 1,
        region: str | None = None,
        channel: str | None = None,
    ) -> AsyncGenerator[Availability, None]:
        hub = _hub(info)
        services = info.context.services

        async def answer(record: SkuRecord | None) -> Availability:
            reference = await load_reference(services)
            result = await availability_service.product_availability(
                services, record, sku, quantity, channel, region, reference
            )
            if result.value is None or record is None:
                raise argument_error(result.errors)
            return Availability.from_answer(result.value, record.currency)

        # A bad argument is refused before the stream starts (an `error` message); the
        # stream watches the SKU from its first step (registered there, so a stream that
        # never starts leaves nothing behind) and sends what changed since this answer.
        first = await answer(await info.context.loaders.record_by_sku.load(sku))
        arguments = (quantity, region, channel)

        async def stream() -> AsyncGenerator[Availability, None]:
            hub.delivered("availabilityChanged")
            yield first
            last = first
            subscriber = hub.sku_subscriber(sku)
            try:
                while True:
                    await subscriber.changed.wait()
                    subscriber.changed.clear()
                    record = subscriber.latest
                    current = await hub.shared(
                        sku, record, arguments, functools.partial(answer, record)
                    )
                    if current != last:
                        last = current
                        hub.delivered("availabilityChanged")
                        yield current
            finally:
                hub.drop_sku_subscriber(subscriber)

        return stream()
