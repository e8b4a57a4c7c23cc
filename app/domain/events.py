"""The vocabulary of the event ledger: what happened (``EventKind``) to what (``Subject``).

Every state change the service makes is recorded as one ``Event`` in the ledger
(``app.storage.ledger``): order and line changes, stock movements, catalog and supply changes,
payments re-authorized, promises that slipped. The ledger is one stream with a monotonically
increasing id, so live subscriptions and the notification relay read the same rows the order
history and the audit trail show.

The values are the stored kinds (``"order.placed"``); the names are what the API shows
(``ORDER_PLACED``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Subject(StrEnum):
    """What an event is about: the key its ``subject_id`` names."""

    ORDER = "ORDER"  # subject_id: the order's uuid
    LINE = "LINE"  # subject_id: the line's id (the event also carries its order)
    SKU = "SKU"  # subject_id: the SKU code
    SUPPLY = "SUPPLY"  # subject_id: the supply record's id
    CUSTOMER = "CUSTOMER"  # subject_id: the customer's e-mail
    CARRIER_SERVICE = "CARRIER_SERVICE"  # subject_id: REGION/CODE
    POOL = "POOL"  # subject_id: the inventory pool's id
    SHIPMENT = "SHIPMENT"  # subject_id: the shipment's id
    NOTIFICATION = "NOTIFICATION"  # subject_id: the notification's id
    ALERT = "ALERT"  # subject_id: the availability alert's id
    CHANNEL = "CHANNEL"  # subject_id: the channel's code
    INTAKE = "INTAKE"  # subject_id: the intake message's id


class EventKind(StrEnum):
    # orders
    ORDER_PLACED = "order.placed"
    ORDER_TAGGED = "order.tagged"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_COMPLETED = "order.completed"
    # order lines
    LINE_RESERVED = "line.reserved"
    LINE_QUEUED = "line.queued"
    LINE_ALLOCATED = "line.allocated"
    LINE_UNALLOCATED = "line.unallocated"
    LINE_PAUSED = "line.paused"
    LINE_RESUMED = "line.resumed"
    LINE_RELEASED = "line.released"
    LINE_DELIVERY_DELAYED = "line.delivery_delayed"
    LINE_PROMISE_CHANGED = "line.promise_changed"
    LINE_DELAY_ACCEPTED = "line.delay_accepted"
    LINE_CANCELLED = "line.cancelled"
    LINE_SHIPPED = "line.shipped"
    LINE_DELIVERED = "line.delivered"
    LINE_DELIVERY_REMINDER = "line.delivery_reminder"
    PAYMENT_REAUTHORIZED = "payment.reauthorized"
    PAYMENT_CAPTURED = "payment.captured"
    PAYMENT_REFUNDED = "payment.refunded"
    # shipments (the order's events: a consolidated shipment writes one per order)
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_ADVANCED = "shipment.advanced"
    SHIPMENT_HELD = "shipment.held"
    SHIPMENT_RELEASED = "shipment.released"
    SHIPMENT_DISPATCHED = "shipment.dispatched"
    SHIPMENT_DELIVERED = "shipment.delivered"
    SHIPMENT_CANCELLED = "shipment.cancelled"
    SHIPMENTS_CONSOLIDATED = "shipment.consolidated"
    # messages to customers
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_DEAD = "notification.dead"
    NOTIFICATION_UNCONFIRMED = "notification.unconfirmed"
    NOTIFICATION_RESENT = "notification.resent"
    CUSTOMER_UNSUBSCRIBED = "customer.unsubscribed"
    ALERT_REQUESTED = "alert.requested"
    ALERT_CONFIRMED = "alert.confirmed"
    ALERT_RELEASED = "alert.released"
    # catalog and stock
    PRODUCT_CREATED = "product.created"
    PREORDER_CONFIGURED = "preorder.configured"
    BACKORDER_CONFIGURED = "backorder.configured"
    SAFETY_STOCK_SET = "safety_stock.set"
    CHANNEL_POOL_ALLOCATED = "channel_pool.allocated"
    ALLOCATION_POLICY_SET = "product.allocation_policy_set"
    SKU_RELEASED = "sku.released"
    STOCK_MOVED = "stock.moved"
    POOL_REPAIRED = "pool.repaired"
    # supply
    SUPPLY_CREATED = "supply.created"
    SUPPLY_ETA_CHANGED = "supply.eta_changed"
    SUPPLY_CANCELLED = "supply.cancelled"
    SUPPLY_RECEIVED = "supply.received"
    # reference data and customers
    CUSTOMER_PRIORITY_SET = "customer.priority_set"
    CARRIER_SERVICE_SET = "carrier_service.set"
    CHANNEL_LIMITS_SET = "channel.limits_set"
    # channel intake
    INTAKE_ACCEPTED = "intake.accepted"
    INTAKE_REJECTED = "intake.rejected"
    INTAKE_RETRYING = "intake.retrying"
    INTAKE_DEAD = "intake.dead"
    INTAKE_REPLAYED = "intake.replayed"
    INTAKE_DISCARDED = "intake.discarded"
    INTAKE_CONFIGURED = "intake.configured"
    CHANNEL_FULFILMENT_SET = "channel.fulfilment_set"


@dataclass(frozen=True)
class Event:
    """One change, as the ledger records it. ``payload`` is what the change made (the new
    values and whatever explains them); ``before`` what it replaced, when that is worth
    keeping. ``order_id``, ``line_id`` and ``product_id`` put the event on the order's and the
    SKU's streams besides its subject's."""

    kind: EventKind
    subject: Subject
    subject_id: str
    actor: str
    payload: Mapping[str, Any] | None = None
    before: Mapping[str, Any] | None = None
    order_id: uuid.UUID | None = None
    line_id: int | None = None
    product_id: uuid.UUID | None = None


def line_event(
    kind: EventKind,
    order_id: uuid.UUID,
    line_id: int,
    actor: str,
    payload: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None = None,
    product_id: uuid.UUID | None = None,
) -> Event:
    return Event(
        kind,
        Subject.LINE,
        str(line_id),
        actor,
        payload,
        before,
        order_id=order_id,
        line_id=line_id,
        product_id=product_id,
    )


def order_event(
    kind: EventKind,
    order_id: uuid.UUID,
    actor: str,
    payload: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None = None,
) -> Event:
    return Event(kind, Subject.ORDER, str(order_id), actor, payload, before, order_id=order_id)


def sku_event(
    kind: EventKind,
    product_id: uuid.UUID,
    sku: str,
    actor: str,
    payload: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None = None,
) -> Event:
    return Event(kind, Subject.SKU, sku, actor, payload, before, product_id=product_id)


def shipment_event(
    kind: EventKind,
    shipment_id: int,
    order_id: uuid.UUID,
    actor: str,
    payload: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None = None,
) -> Event:
    """An event of a shipment, on one of its orders' history (a shipment spanning orders
    writes one per order)."""
    return Event(
        kind, Subject.SHIPMENT, str(shipment_id), actor, payload, before, order_id=order_id
    )
