"""The domain's enums as the schema shows them (one definition: the domain's), with the names
and descriptions clients see. ``strawberry.enum`` registers each class; the names exported
here are the classes themselves."""

from __future__ import annotations

import strawberry

from app.domain.availability import AvailabilityState, PoolKind
from app.domain.availability import PaymentTerms as PaymentTermsKind
from app.domain.estimates import Confidence as EstimateConfidence
from app.domain.estimates import PromiseCause
from app.domain.events import EventKind
from app.domain.events import Subject as EventSubject
from app.domain.lines import DelayConsent, LineState, LineStatus, OrderStatus, ShipsWhen
from app.domain.notifications import NotificationStatus
from app.domain.notifications import Template as NotificationTemplate
from app.domain.payments import PaymentKind as PaymentEntryKind
from app.domain.shipments import FulfilmentKind, HoldReason, ShipmentStatus
from app.domain.shipments import Urgency as ShipmentUrgency
from app.services.scheduler import Job as ScheduledJob

__all__ = [
    "AvailabilityState",
    "DelayConsent",
    "EstimateConfidence",
    "EventKind",
    "EventSubject",
    "FulfilmentKind",
    "HoldReason",
    "LineState",
    "LineStatus",
    "NotificationStatus",
    "NotificationTemplate",
    "OrderStatus",
    "PaymentEntryKind",
    "PaymentTermsKind",
    "PoolKind",
    "PromiseCause",
    "ScheduledJob",
    "ShipmentStatus",
    "ShipmentUrgency",
    "ShipsWhen",
]

strawberry.enum(
    AvailabilityState,
    description="What a storefront shows for a request: which button, which promise.",
)
strawberry.enum(PoolKind, description="Kinds of inventory pool per SKU.")
strawberry.enum(
    PaymentTermsKind,
    name="PaymentTermsKind",
    description="When the customer pays: FULL at order, a DEPOSIT now and the balance at "
    "dispatch, or AUTHORIZE now and capture at dispatch.",
)
strawberry.enum(
    EstimateConfidence,
    name="EstimateConfidence",
    description="How sure a delivery window is: it falls with supply uncertainty.",
)
strawberry.enum(PromiseCause, description="What made a line's promise change (or its units move).")
strawberry.enum(
    LineState, description="Which commitment a line is: ready stock, pre-order or backorder."
)
strawberry.enum(
    LineStatus,
    description="RESERVED (ready stock, ships now), WAITING (in its SKU's queue), ALLOCATED "
    "(every unit ring-fenced), SHIPPED or CANCELLED.",
)
strawberry.enum(OrderStatus, description="Where an order is as a whole.")
strawberry.enum(
    DelayConsent, description="A customer's answer to a delay beyond the store's threshold."
)
strawberry.enum(ShipsWhen, description="When a shipment group leaves.")
strawberry.enum(
    PaymentEntryKind, name="PaymentEntryKind", description="A step in the payment ledger."
)
strawberry.enum(EventKind, description="What happened, in the event ledger.")
strawberry.enum(EventSubject, name="EventSubject", description="What an event is about.")
strawberry.enum(ScheduledJob, name="ScheduledJob", description="A scheduled job.")
strawberry.enum(
    NotificationTemplate,
    name="NotificationTemplate",
    description="Which message a customer gets (one template each, HTML and plain text).",
)
strawberry.enum(
    NotificationStatus,
    description="Where a message to a customer is: PENDING (waiting for its next attempt), "
    "SENDING, SENT, DEAD (every attempt failed), UNCONFIRMED (the relay stopped mid-send: "
    "maybe sent), SUPPRESSED (the customer switched it off).",
)
strawberry.enum(
    ShipmentStatus,
    description="Where a shipment is: PICKING → PACKED → AWAITING_SHIPMENT → DISPATCHED → "
    "DELIVERED; ON_HOLD (with a reason) from any step before dispatch, back to that step when "
    "released; CANCELLED before dispatch (its lines wait for a new shipment).",
)
strawberry.enum(HoldReason, description="Why a shipment is on hold.")
strawberry.enum(
    FulfilmentKind,
    description="The work list a shipment is on: READY (in-stock orders, never behind "
    "future-dated work), PRE_ORDER or BACKORDER (the latest of its lines).",
)
strawberry.enum(
    ShipmentUrgency,
    name="ShipmentUrgency",
    description="How close a shipment still in the warehouse is to its dispatch deadline: "
    "AT_RISK within OMS_SHIPMENT_RISK_HOURS of it, BREACHED past it.",
)
