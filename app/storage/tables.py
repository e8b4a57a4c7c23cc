"""SQLModel tables. Counters are always derivable from rows (see the invariant checker)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any

from sqlalchemy import (
    CHAR,
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType
from sqlmodel import Field, SQLModel


def _uuid_pk() -> Any:
    return Field(
        default=None,
        sa_column=Column(
            UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
        ),
    )


def _created_at() -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Channel(SQLModel, table=True):
    """A sales channel: webstore, marketplace, POS, … Each sees its own ATP."""

    __tablename__ = "channels"
    code: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    sla_hours: int = Field(sa_column=Column(Integer, nullable=False, server_default="48"))
    priority: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    created_at: datetime | None = _created_at()
    # limits per order line and per customer and SKU on this channel (null: the defaults)
    max_units_per_line: int | None = Field(default=None, sa_column=Column(Integer))
    max_units_per_customer_sku: int | None = Field(default=None, sa_column=Column(Integer))
    # work arriving after this time of day (store time) is the next day's (null: the store's
    # default, OMS_DEFAULT_CUTOFF_TIME)
    cutoff_time: dt_time | None = Field(default=None, sa_column=Column(Time))
    # one customer's pre-order / backorder lines released together ship as one shipment
    auto_consolidate: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )

    __table_args__ = (
        CheckConstraint(
            "(max_units_per_line IS NULL OR max_units_per_line > 0) AND "
            "(max_units_per_customer_sku IS NULL OR max_units_per_customer_sku > 0)",
            name="ck_channel_limits",
        ),
    )


class Region(SQLModel, table=True):
    """A shipping region with its transit time window (days)."""

    __tablename__ = "regions"
    code: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    transit_min_days: int = Field(sa_column=Column(Integer, nullable=False))
    transit_max_days: int = Field(sa_column=Column(Integer, nullable=False))
    is_default: bool = Field(
        sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )

    __table_args__ = (
        CheckConstraint("transit_min_days >= 0 AND transit_max_days >= transit_min_days"),
    )


class Location(SQLModel, table=True):
    """A warehouse or store that holds stock."""

    __tablename__ = "locations"
    code: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _created_at()


class Product(SQLModel, table=True):
    """A sellable variant (one SKU) with its selling policy for pre-orders and backorders."""

    __tablename__ = "products"
    id: uuid.UUID | None = _uuid_pk()
    sku: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    family: str | None = Field(default=None, sa_column=Column(Text))
    description: str | None = Field(default=None, sa_column=Column(Text))
    options: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    tags: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'")),
    )
    price_minor: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))
    currency: str = Field(sa_column=Column(String(3), nullable=False, server_default="EUR"))
    release_date: date | None = Field(default=None, sa_column=Column(Date))
    safety_stock: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    # pre-order policy
    preorder_enabled: bool = Field(
        sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    preorder_message: str | None = Field(default=None, sa_column=Column(Text))
    preorder_payment: str = Field(
        sa_column=Column(String(32), nullable=False, server_default="FULL")
    )
    preorder_deposit_percent: float | None = Field(default=None, sa_column=Column(Numeric(5, 2)))
    preorder_deposit_minor: int | None = Field(default=None, sa_column=Column(BigInteger))
    # backorder policy
    backorder_allowed: bool = Field(
        sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    backorder_message: str | None = Field(default=None, sa_column=Column(Text))
    backorder_payment: str = Field(
        sa_column=Column(String(32), nullable=False, server_default="FULL")
    )
    backorder_deposit_percent: float | None = Field(default=None, sa_column=Column(Numeric(5, 2)))
    backorder_deposit_minor: int | None = Field(default=None, sa_column=Column(BigInteger))
    released_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )  # set by the release job once waiting pre-orders were served at launch
    allocation_policy: str = Field(
        sa_column=Column(String(16), nullable=False, server_default="FIFO")
    )
    created_at: datetime | None = _created_at()
    updated_at: datetime | None = _created_at()

    __table_args__ = (
        CheckConstraint(
            "allocation_policy IN ('FIFO', 'PRIORITY_FIRST')", name="ck_products_allocation_policy"
        ),
        CheckConstraint("safety_stock >= 0", name="ck_products_safety_stock"),
        CheckConstraint("price_minor >= 0", name="ck_products_price"),
        Index("ix_products_tags", "tags", postgresql_using="gin"),
    )


class InventoryPool(SQLModel, table=True):
    """A capped counter of units per SKU and kind.

    READY: shared pick-ready stock (on hand - safety - reserved - channel holds).
    CHANNEL: READY stock held for one channel. PRE_ORDER: places under the pre-order cap,
    never drawn from on-hand. BACKORDER: waiting demand under the backorder cap.
    RESERVED: units ring-fenced for waiting orders. ``capacity`` NULL means unlimited.
    """

    __tablename__ = "inventory_pools"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    product_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        )
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    channel_code: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("channels.code"))
    )
    capacity: int | None = Field(default=None, sa_column=Column(Integer))
    committed: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    share_percent: float | None = Field(default=None, sa_column=Column(Numeric(5, 2)))
    fixed_quantity: int | None = Field(default=None, sa_column=Column(Integer))
    updated_at: datetime | None = _created_at()

    __table_args__ = (
        UniqueConstraint(
            "product_id",
            "kind",
            "channel_code",
            name="uq_pool_product_kind",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(
            "kind IN ('READY','PRE_ORDER','BACKORDER','RESERVED','CHANNEL')", name="ck_pool_kind"
        ),
        CheckConstraint("committed >= 0", name="ck_pool_committed_nonneg"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="ck_pool_capacity_nonneg"),
        # READY and CHANNEL are left out on purpose: their capacity is derived (on hand -
        # safety - RESERVED - holds) and legitimately drops below what was already sold
        # when stock shrinks after a sale, safety stock is raised or a hold is lowered (the
        # checker's ready_oversold / channel_over_hold warnings); placement's conditional
        # update keeps each sale within it. RESERVED <= on hand: see _RESERVED_GUARD below.
        CheckConstraint(
            "kind IN ('READY','CHANNEL') OR capacity IS NULL OR committed <= capacity",
            name="ck_pool_within_cap",
        ),
        CheckConstraint("(kind = 'CHANNEL') = (channel_code IS NOT NULL)", name="ck_pool_channel"),
    )


class StockLevel(SQLModel, table=True):
    """Units physically on hand at one location."""

    __tablename__ = "stock_levels"
    product_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True),
            ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    location_code: str = Field(
        sa_column=Column(String(64), ForeignKey("locations.code"), primary_key=True)
    )
    on_hand: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))

    __table_args__ = (CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_nonneg"),)


# Units ring-fenced for waiting lines (RESERVED committed) never exceed the SKU's stock on
# hand (all locations). That spans two tables, which a CHECK cannot see (it reads one row), so
# it is held by deferred constraint triggers, checked at COMMIT (a dispatch or a stock change
# may pass through a transient state), that fire only when RESERVED grows or on hand shrinks.
# Created by migration 0009; the same DDL here for a schema built from these tables.
_RESERVED_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION oms_check_reserved_on_hand() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
    held integer;
    stock bigint;
    product_sku text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        target := OLD.product_id;
    ELSE
        target := NEW.product_id;
    END IF;
    SELECT ip.committed, p.sku,
           COALESCE((SELECT sum(s.on_hand) FROM stock_levels s
                     WHERE s.product_id = ip.product_id), 0)
      INTO held, product_sku, stock
      FROM inventory_pools ip JOIN products p ON p.id = ip.product_id
     WHERE ip.product_id = target AND ip.kind = 'RESERVED';
    IF held > stock THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'ck_reserved_within_on_hand',
            MESSAGE = held || ' units of ' || product_sku || ' are ring-fenced for waiting lines, '
                      || 'but only ' || stock || ' are on hand';
    END IF;
    RETURN NULL;
END
$$
"""
_RESERVED_GUARD: dict[str, tuple[str, ...]] = {
    "inventory_pools": (
        "CREATE CONSTRAINT TRIGGER ck_reserved_within_on_hand "
        "AFTER UPDATE OF committed ON inventory_pools DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW WHEN (NEW.kind = 'RESERVED' AND NEW.committed > OLD.committed) "
        "EXECUTE FUNCTION oms_check_reserved_on_hand()",
    ),
    "stock_levels": (
        "CREATE CONSTRAINT TRIGGER ck_on_hand_covers_reserved "
        "AFTER UPDATE OF on_hand ON stock_levels DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW WHEN (NEW.on_hand < OLD.on_hand) "
        "EXECUTE FUNCTION oms_check_reserved_on_hand()",
        "CREATE CONSTRAINT TRIGGER ck_on_hand_covers_reserved_delete "
        "AFTER DELETE ON stock_levels DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW WHEN (OLD.on_hand > 0) "
        "EXECUTE FUNCTION oms_check_reserved_on_hand()",
    ),
}
for _table, _triggers in _RESERVED_GUARD.items():
    for _ddl in (_RESERVED_GUARD_FUNCTION, *_triggers):
        _guard = DDL(_ddl)  # type: ignore[no-untyped-call]
        event.listen(SQLModel.metadata.tables[_table], "after_create", _guard)


class ApiKey(SQLModel, table=True):
    """An API key: only a SHA-256 of the secret is stored; ``prefix`` finds the row."""

    __tablename__ = "api_keys"
    id: uuid.UUID | None = _uuid_pk()
    prefix: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))
    scopes: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    created_at: datetime | None = _created_at()
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    email: str = Field(sa_column=Column(Text, primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    priority: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    created_at: datetime | None = _created_at()


class Order(SQLModel, table=True):
    """An order from any channel. ``number`` is human-readable (PO-2026-000123)."""

    __tablename__ = "orders"
    id: uuid.UUID | None = _uuid_pk()
    number: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code"), nullable=False)
    )
    customer_email: str = Field(sa_column=Column(Text, nullable=False))
    customer_name: str = Field(sa_column=Column(Text, nullable=False))
    region: str | None = Field(default=None, sa_column=Column(String(32)))
    postal_code: str | None = Field(default=None, sa_column=Column(Text))
    address: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    ship_together: bool = Field(
        sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    status: str = Field(sa_column=Column(String(24), nullable=False, server_default="PLACED"))
    tags: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'")),
    )
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    total_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False))
    placed_by: str = Field(sa_column=Column(Text, nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(Text))
    placed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime | None = _created_at()
    # When the row was written in its placement transaction (the database clock): minus
    # placed_at, the order's confirmation latency (the ops dashboard's p50/p99).
    confirmed_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=text("clock_timestamp()")),
    )

    __table_args__ = (
        CheckConstraint("status IN ('PLACED', 'CANCELLED', 'COMPLETED')", name="ck_orders_status"),
        Index("ix_orders_placed", text("placed_at DESC"), "id"),
        Index("ix_orders_channel", "channel_code", text("placed_at DESC")),
        Index("ix_orders_tags", "tags", postgresql_using="gin"),
        Index("ix_orders_customer", "customer_email"),
    )


class OrderLine(SQLModel, table=True):
    """A (sub-)line: one state, one pool. Waiting lines carry their place in the SKU queue."""

    __tablename__ = "order_lines"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    order_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
        )
    )
    line_no: int = Field(sa_column=Column(Integer, nullable=False))
    sub_no: int = Field(sa_column=Column(Integer, nullable=False))
    product_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("products.id"), nullable=False)
    )
    sku: str = Field(sa_column=Column(String(64), nullable=False))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    pool_kind: str = Field(sa_column=Column(String(16), nullable=False))
    pool_channel: str | None = Field(default=None, sa_column=Column(String(64)))
    unit_price_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    payment_terms: str = Field(sa_column=Column(String(16), nullable=False))
    shipment_group: int = Field(sa_column=Column(Integer, nullable=False))
    queue_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    queued_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    allocated: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    paused_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    promised_earliest: date | None = Field(default=None, sa_column=Column(Date))
    promised_latest: date | None = Field(default=None, sa_column=Column(Date))
    promise_confidence: str | None = Field(default=None, sa_column=Column(String(8)))
    promised_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    delay_consent: str | None = Field(default=None, sa_column=Column(String(24)))
    consent_due_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    delivered_on: date | None = Field(default=None, sa_column=Column(Date))
    created_at: datetime | None = _created_at()
    updated_at: datetime | None = _created_at()
    # the line's open or dispatched shipment (null: none yet, or its shipment was cancelled)
    shipment_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("shipments.id"))
    )

    __table_args__ = (
        UniqueConstraint("order_id", "line_no", "sub_no"),
        CheckConstraint("allocated >= 0 AND allocated <= quantity", name="ck_line_allocated"),
        CheckConstraint(
            "delay_consent IS NULL OR delay_consent IN ('REQUESTED', 'ACCEPTED', 'CANCELLED', "
            "'DEFAULT_ACCEPTED', 'DEFAULT_CANCELLED')",
            name="ck_line_consent",
        ),
        Index(
            "ix_lines_consent_due",
            "consent_due_at",
            postgresql_where=text("delay_consent = 'REQUESTED'"),
        ),
        Index(
            "ix_lines_unpromised",
            "product_id",
            postgresql_where=text("promised_at IS NULL AND status IN ('WAITING', 'ALLOCATED')"),
        ),
        Index(
            "ix_lines_delivered", "product_id", postgresql_where=text("delivered_on IS NOT NULL")
        ),
        Index("ix_lines_shipment", "shipment_id", postgresql_where=text("shipment_id IS NOT NULL")),
        Index(
            "ix_lines_to_ship",
            "order_id",
            postgresql_where=text("shipment_id IS NULL AND status IN ('RESERVED', 'ALLOCATED')"),
        ),
        CheckConstraint("quantity > 0"),
        CheckConstraint("state IN ('READY', 'PRE_ORDER', 'BACKORDER')", name="ck_line_state"),
        CheckConstraint(
            "status IN ('RESERVED', 'WAITING', 'ALLOCATED', 'CANCELLED', 'SHIPPED')",
            name="ck_line_status",
        ),
        CheckConstraint(
            "pool_kind IN ('READY', 'CHANNEL', 'PRE_ORDER', 'BACKORDER')", name="ck_line_pool"
        ),
        CheckConstraint("(state = 'READY') = (queue_seq IS NULL)", name="ck_line_queue"),
        Index("ix_lines_order", "order_id"),
        Index(
            "ix_lines_queue",
            "product_id",
            "queue_seq",
            postgresql_where=text("status = 'WAITING'"),
        ),
        Index("ix_lines_sku", "sku"),
    )


class PaymentEntry(SQLModel, table=True):
    """The payment ledger: authorize / capture / refund / void / re-authorize. Append-only."""

    __tablename__ = "payment_entries"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    order_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
        )
    )
    line_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("order_lines.id"))
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    gateway: str = Field(sa_column=Column(String(32), nullable=False))
    reference: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = _created_at()

    __table_args__ = (
        CheckConstraint("amount_minor >= 0"),
        CheckConstraint(
            "kind IN ('AUTHORIZE', 'CAPTURE', 'REFUND', 'VOID', 'REAUTHORIZE')",
            name="ck_payment_kind",
        ),
        Index("ix_payments_order", "order_id", "id"),
    )


class IdempotencyKey(SQLModel, table=True):
    """Placement keys per (API key, channel) scope, kept OMS_IDEMPOTENCY_HOURS."""

    __tablename__ = "idempotency_keys"
    scope: str = Field(sa_column=Column(Text, primary_key=True))
    key: str = Field(sa_column=Column(Text, primary_key=True))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    order_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(UUID(as_uuid=True), ForeignKey("orders.id", ondelete="SET NULL")),
    )
    response: Any = Field(default=None, sa_column=Column(JSONB))
    created_at: datetime | None = _created_at()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

    __table_args__ = (Index("ix_idempotency_expiry", "expires_at"),)


class Supplier(SQLModel, table=True):
    """A supplier with its on-time history (receipts on or before the first expected date)."""

    __tablename__ = "suppliers"
    code: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    lead_time_days: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    receipts: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    on_time_receipts: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    created_at: datetime | None = _created_at()

    __table_args__ = (
        CheckConstraint(
            "lead_time_days >= 0 AND on_time_receipts >= 0 AND receipts >= on_time_receipts",
            name="ck_suppliers_counts",
        ),
    )


class Supply(SQLModel, table=True):
    """Inbound supply: a purchase order or a production run, for one SKU at one location."""

    __tablename__ = "supply"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    product_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("products.id"), nullable=False)
    )
    location_code: str = Field(
        sa_column=Column(String(64), ForeignKey("locations.code"), nullable=False)
    )
    supplier_code: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("suppliers.code"))
    )
    reference: str = Field(sa_column=Column(Text, nullable=False))
    quantity: int = Field(sa_column=Column(Integer, nullable=False))
    received_quantity: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    expected_on: date = Field(sa_column=Column(Date, nullable=False))
    original_expected_on: date = Field(sa_column=Column(Date, nullable=False))
    received_on: date | None = Field(default=None, sa_column=Column(Date))  # in full
    lead_time_days: int | None = Field(default=None, sa_column=Column(Integer))
    units_per_day: int | None = Field(default=None, sa_column=Column(Integer))
    run_days: int | None = Field(default=None, sa_column=Column(Integer))
    status: str = Field(sa_column=Column(String(16), nullable=False, server_default="OPEN"))
    slips: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    created_by: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _created_at()
    updated_at: datetime | None = _created_at()
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))

    __table_args__ = (
        CheckConstraint("kind IN ('PURCHASE_ORDER', 'PRODUCTION_RUN')", name="ck_supply_kind"),
        CheckConstraint("status IN ('OPEN', 'RECEIVED', 'CANCELLED')", name="ck_supply_status"),
        CheckConstraint("quantity > 0 AND received_quantity >= 0", name="ck_supply_quantity"),
        CheckConstraint(
            "(kind = 'PRODUCTION_RUN') = (units_per_day IS NOT NULL AND run_days IS NOT NULL)",
            name="ck_supply_run",
        ),
        CheckConstraint(
            "units_per_day IS NULL OR (units_per_day > 0 AND run_days > 0)",
            name="ck_supply_run_positive",
        ),
        Index(
            "ix_supply_open",
            "product_id",
            "expected_on",
            "id",
            postgresql_where=text("status = 'OPEN'"),
        ),
        Index("ix_supply_product", "product_id", "id"),
        # a supplier's (a SKU's, for production runs) latest deliveries: its lateness history
        Index(
            "ix_supply_received_supplier",
            "supplier_code",
            "kind",
            text("id DESC"),
            postgresql_where=text("status = 'RECEIVED' AND supplier_code IS NOT NULL"),
        ),
        Index(
            "ix_supply_received_product",
            "product_id",
            "kind",
            text("id DESC"),
            postgresql_where=text("status = 'RECEIVED' AND supplier_code IS NULL"),
        ),
    )


class GoodsReceipt(SQLModel, table=True):
    """A goods receipt (GRN) and where its units went. Append-only."""

    __tablename__ = "goods_receipts"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    product_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("products.id"), nullable=False)
    )
    location_code: str = Field(
        sa_column=Column(String(64), ForeignKey("locations.code"), nullable=False)
    )
    supply_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("supply.id"))
    )
    quantity: int = Field(
        sa_column=Column(Integer, CheckConstraint("quantity > 0"), nullable=False)
    )
    reference: str = Field(sa_column=Column(Text, nullable=False))
    allocated: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    held_for_launch: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    to_stock: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    on_time: bool | None = Field(default=None, sa_column=Column(Boolean))
    actor: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _created_at()

    __table_args__ = (Index("ix_receipts_product", "product_id", "id"),)


class Allocation(SQLModel, table=True):
    """Units ring-fenced for (positive) or taken back from (negative) a waiting line."""

    __tablename__ = "allocations"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    line_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=False
        )
    )
    product_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("products.id"), nullable=False)
    )
    receipt_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("goods_receipts.id"))
    )
    quantity: int = Field(
        sa_column=Column(Integer, CheckConstraint("quantity <> 0"), nullable=False)
    )
    cause: str = Field(sa_column=Column(String(32), nullable=False))
    actor: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _created_at()

    __table_args__ = (
        Index("ix_allocations_line", "line_id", "id"),
        Index("ix_allocations_receipt", "receipt_id"),
    )


class LinePromise(SQLModel, table=True):
    """A waiting line's promise history: the first window and every change, with its cause."""

    __tablename__ = "line_promises"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    line_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=False
        )
    )
    earliest: date | None = Field(default=None, sa_column=Column(Date))
    latest: date | None = Field(default=None, sa_column=Column(Date))
    confidence: str = Field(sa_column=Column(String(8), nullable=False))
    supply_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    cause: str = Field(sa_column=Column(String(32), nullable=False))
    delayed_days: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    created_at: datetime | None = _created_at()

    __table_args__ = (Index("ix_line_promises_line", "line_id", "id"),)


class SchedulerRun(SQLModel, table=True):
    """The last run of each scheduled job (whichever replica ran it)."""

    __tablename__ = "scheduler_runs"
    job: str = Field(sa_column=Column(String(48), primary_key=True))
    last_started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    last_finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    last_result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    runs: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))


class CarrierService(SQLModel, table=True):
    """A carrier service in a region (e.g. EU STANDARD, EU EXPRESS) with its transit days;
    a region's own transit days are its default service."""

    __tablename__ = "carrier_services"
    region_code: str = Field(
        sa_column=Column(String(32), ForeignKey("regions.code"), primary_key=True)
    )
    code: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    transit_min_days: int = Field(sa_column=Column(Integer, nullable=False))
    transit_max_days: int = Field(sa_column=Column(Integer, nullable=False))

    __table_args__ = (
        CheckConstraint(
            "transit_min_days >= 0 AND transit_max_days >= transit_min_days",
            name="ck_carrier_transit",
        ),
    )


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


class PromiseRequest(SQLModel, table=True):
    """A SKU whose waiting lines must be re-promised whole (a PRIORITY order went ahead of
    lines promised already); the PROMISE_NEW_LINES job takes these."""

    __tablename__ = "promise_requests"
    product_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
        )
    )
    requested_at: datetime | None = _created_at()


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _updated_at() -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Notification(SQLModel, table=True):
    """A message to a customer, derived by the relay from one event (or the events of one
    transaction for one order: ``group_key``), sent at most once per recipient and template.
    ``message_id`` is made with the row, before any attempt, so a resend is recognisable."""

    __tablename__ = "notifications"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    group_key: str = Field(sa_column=Column(Text, nullable=False))
    event_id: int = Field(sa_column=Column(BigInteger, ForeignKey("events.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(48), nullable=False))
    template: str = Field(sa_column=Column(String(48), nullable=False))
    recipient: str = Field(sa_column=Column(Text, nullable=False))
    transactional: bool = Field(sa_column=Column(Boolean, nullable=False))
    order_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE")),
    )
    line_ids: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(BigInteger), nullable=False, server_default=text("'{}'")),
    )
    alert_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    starts_consent: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=text("false")),
    )
    status: str = Field(
        default="PENDING",
        sa_column=Column(String(16), nullable=False, server_default=text("'PENDING'")),
    )
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    next_attempt_at: datetime | None = _updated_at()
    lease_until: datetime | None = _ts()
    message_id: str = Field(sa_column=Column(Text, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(Text))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = _ts()
    created_at: datetime | None = _created_at()
    updated_at: datetime | None = _updated_at()

    __table_args__ = (
        UniqueConstraint("group_key", "recipient", "template", name="uq_notifications_once"),
        UniqueConstraint("message_id", name="uq_notifications_message_id"),
        CheckConstraint(
            "status IN ('PENDING', 'SENDING', 'SENT', 'DEAD', 'UNCONFIRMED', 'SUPPRESSED')",
            name="ck_notifications_status",
        ),
        CheckConstraint("attempts >= 0", name="ck_notifications_attempts"),
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index(
            "ix_notifications_order",
            "order_id",
            "id",
            postgresql_where=text("order_id IS NOT NULL"),
        ),
        Index("ix_notifications_status", "status", "id"),
    )


class RelayCursor(SQLModel, table=True):
    """Where a follower of the event ledger stands: after the event ``(tx, event_id)``."""

    __tablename__ = "relay_cursors"
    name: str = Field(sa_column=Column(String(32), primary_key=True))
    tx: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0"))
    )
    event_id: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0"))
    )
    updated_at: datetime | None = _updated_at()


class EmailPreference(SQLModel, table=True):
    """A customer's choice about the messages they may switch off (reminders)."""

    __tablename__ = "email_preferences"
    email: str = Field(sa_column=Column(Text, primary_key=True))
    reminders: bool = Field(sa_column=Column(Boolean, nullable=False))
    updated_at: datetime | None = _updated_at()


class UsedToken(SQLModel, table=True):
    """A single-use link that was used (its id: signed links carry one)."""

    __tablename__ = "used_tokens"
    jti: str = Field(sa_column=Column(String(64), primary_key=True))
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    used_at: datetime | None = _updated_at()


class AppSecret(SQLModel, table=True):
    """Secrets the service makes for itself once per database (the link-signing key)."""

    __tablename__ = "app_secrets"
    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = _created_at()


class DeliveryReminder(SQLModel, table=True):
    """A reminder offset (days before the expected delivery) a line was settled for."""

    __tablename__ = "delivery_reminders"
    line_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True
        )
    )
    offset_days: int = Field(sa_column=Column(Integer, primary_key=True))
    created_at: datetime | None = _created_at()


class AvailabilityAlert(SQLModel, table=True):
    """A "notify me" sign-up for a SKU: PENDING until the customer confirms it (double
    opt-in), CONFIRMED in sign-up order, NOTIFIED when its alert went out."""

    __tablename__ = "availability_alerts"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    product_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        )
    )
    email: str = Field(sa_column=Column(Text, nullable=False))
    channel: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("channels.code"))
    )
    status: str = Field(
        default="PENDING",
        sa_column=Column(String(16), nullable=False, server_default=text("'PENDING'")),
    )
    opened_state: str | None = Field(default=None, sa_column=Column(String(16)))
    created_at: datetime | None = _created_at()
    confirmed_at: datetime | None = _ts()
    notified_at: datetime | None = _ts()
    held_until: datetime | None = _ts()

    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING', 'CONFIRMED', 'NOTIFIED', 'CANCELLED')",
            name="ck_availability_alerts_status",
        ),
        Index(
            "uq_availability_alerts_open",
            "product_id",
            "email",
            unique=True,
            postgresql_where=text("status IN ('PENDING', 'CONFIRMED')"),
        ),
        Index(
            "ix_availability_alerts_queue",
            "product_id",
            "created_at",
            "id",
            postgresql_where=text("status = 'CONFIRMED'"),
        ),
        Index("ix_availability_alerts_email", "email"),
    )


class Shipment(SQLModel, table=True):
    """Lines of one order (or, consolidated, one customer) leaving together: the warehouse's
    unit of work (``app.domain.shipments``)."""

    __tablename__ = "shipments"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    number: str = Field(sa_column=Column(Text, nullable=False))
    order_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
        )
    )
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code"), nullable=False)
    )
    customer_email: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(
        default="PICKING",
        sa_column=Column(String(24), nullable=False, server_default=text("'PICKING'")),
    )
    held_from: str | None = Field(default=None, sa_column=Column(String(24)))
    hold_reason: str | None = Field(default=None, sa_column=Column(String(32)))
    hold_note: str | None = Field(default=None, sa_column=Column(Text))
    address: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    region: str | None = Field(default=None, sa_column=Column(String(32)))
    carrier_service: str | None = Field(default=None, sa_column=Column(Text))
    carrier: str | None = Field(default=None, sa_column=Column(Text))
    tracking_number: str | None = Field(default=None, sa_column=Column(Text))
    tracking_url: str | None = Field(default=None, sa_column=Column(Text))
    ready_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    dispatch_deadline: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    packed_at: datetime | None = _ts()
    dispatched_at: datetime | None = _ts()
    delivered_on: date | None = Field(default=None, sa_column=Column(Date))
    cancelled_at: datetime | None = _ts()
    created_at: datetime | None = _created_at()
    updated_at: datetime | None = _updated_at()

    __table_args__ = (
        UniqueConstraint("number", name="uq_shipments_number"),
        CheckConstraint(
            "status IN ('PICKING', 'PACKED', 'AWAITING_SHIPMENT', 'DISPATCHED', 'DELIVERED', "
            "'ON_HOLD', 'CANCELLED')",
            name="ck_shipments_status",
        ),
        CheckConstraint("kind IN ('READY', 'PRE_ORDER', 'BACKORDER')", name="ck_shipments_kind"),
        CheckConstraint("(status = 'ON_HOLD') = (held_from IS NOT NULL)", name="ck_shipments_hold"),
        Index(
            "ix_shipments_work",
            "kind",
            "dispatch_deadline",
            "id",
            postgresql_where=text(
                "status IN ('PICKING', 'PACKED', 'AWAITING_SHIPMENT', 'ON_HOLD')"
            ),
        ),
        Index("ix_shipments_order", "order_id", "id"),
        Index("ix_shipments_customer", "customer_email", "id"),
    )


class ShipmentLine(SQLModel, table=True):
    """A line a shipment holds (kept after the shipment is cancelled: its history)."""

    __tablename__ = "shipment_lines"
    shipment_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
        )
    )
    line_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True
        )
    )

    __table_args__ = (Index("ix_shipment_lines_line", "line_id"),)


# Reflection (Alembic's autogenerate) knows the type by its name.
ischema_names["xid8"] = Xid8


class Event(SQLModel, table=True):
    """The event ledger: every change the service makes, one row each, append-only.

    ``kind`` says what happened (``app.domain.events.EventKind``), ``subject`` and
    ``subject_id`` to what; order and line events also carry ``order_id`` (the order's
    history). ``tx`` is the writing transaction: readers that follow the stream read only
    rows of transactions older than every one still running (``app.storage.ledger``)."""

    __tablename__ = "events"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    tx: int | None = Field(
        default=None,
        sa_column=Column(Xid8(), nullable=False, server_default=text("pg_current_xact_id()")),
    )
    kind: str = Field(sa_column=Column(String(48), nullable=False))
    subject: str = Field(sa_column=Column(String(16), nullable=False))
    subject_id: str = Field(sa_column=Column(Text, nullable=False))
    order_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE")),
    )
    line_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    actor: str = Field(sa_column=Column(Text, nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    created_at: datetime | None = _created_at()

    __table_args__ = (
        CheckConstraint(
            "subject IN ('ORDER', 'LINE', 'SKU', 'SUPPLY', 'CUSTOMER', 'CARRIER_SERVICE', "
            "'POOL', 'SHIPMENT', 'NOTIFICATION', 'ALERT', 'CHANNEL', 'INTAKE')",
            name="ck_events_subject",
        ),
        Index("ix_events_order", "order_id", "id", postgresql_where=text("order_id IS NOT NULL")),
        Index(
            "ix_events_subject",
            "subject",
            "subject_id",
            "id",
            postgresql_where=text("order_id IS NULL"),
        ),
        Index("ix_events_stream", "tx", "id"),
    )


class IntakeChannel(SQLModel, table=True):
    """Which adapter reads a channel's webhooks, and the channel's intake rules (JSON)."""

    __tablename__ = "intake_channels"
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code"), primary_key=True)
    )
    adapter: str = Field(sa_column=Column(String(32), nullable=False))
    rules: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    updated_at: datetime | None = _updated_at()


class IntakeAccountRules(SQLModel, table=True):
    """One account's rules on a channel (a B2B buyer, a shop's till) over the channel's."""

    __tablename__ = "intake_account_rules"
    channel_code: str = Field(
        sa_column=Column(
            String(64),
            ForeignKey("intake_channels.channel_code", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    account: str = Field(sa_column=Column(String(64), primary_key=True))
    rules: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    updated_at: datetime | None = _updated_at()


class ChannelSkuMap(SQLModel, table=True):
    """A channel's own SKU code, mapped to ours."""

    __tablename__ = "channel_sku_map"
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code"), primary_key=True)
    )
    external_sku: str = Field(sa_column=Column(String(64), primary_key=True))
    sku: str = Field(sa_column=Column(String(64), nullable=False))
    updated_at: datetime | None = _updated_at()


class IntakeBatch(SQLModel, table=True):
    """A till upload as received; its receipts are intake messages."""

    __tablename__ = "intake_batches"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code"), nullable=False)
    )
    content_type: str = Field(sa_column=Column(String(32), nullable=False))
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    rows: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    purged_at: datetime | None = _ts()


class IntakeMessage(SQLModel, table=True):
    """One order payload as received, before anything read it, and what became of it."""

    __tablename__ = "intake_messages"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    channel_code: str = Field(
        sa_column=Column(String(64), ForeignKey("channels.code"), nullable=False)
    )
    adapter: str = Field(sa_column=Column(String(32), nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(128)))
    account: str | None = Field(default=None, sa_column=Column(String(64)))
    batch_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("intake_batches.id", ondelete="SET NULL")),
    )
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    payload_sha256: str = Field(sa_column=Column(CHAR(64), nullable=False))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deliveries: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1")
    )
    status: str = Field(
        default="RECEIVED",
        sa_column=Column(String(16), nullable=False, server_default=text("'RECEIVED'")),
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    replay_no: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    next_attempt_at: datetime | None = _ts()
    error_code: str | None = Field(default=None, sa_column=Column(String(48)))
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    errors: list[Any] | None = Field(default=None, sa_column=Column(JSONB))
    order_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(UUID(as_uuid=True), ForeignKey("orders.id", ondelete="SET NULL")),
    )
    currency: str | None = Field(default=None, sa_column=Column(CHAR(3)))
    value_minor: int | None = Field(default=None, sa_column=Column(BigInteger))
    units: int | None = Field(default=None, sa_column=Column(Integer))
    sla_deadline: datetime | None = _ts()
    impact_score: float = Field(
        default=0.0, sa_column=Column(Float, nullable=False, server_default="0")
    )
    processed_at: datetime | None = _ts()
    latency_ms: float | None = Field(default=None, sa_column=Column(Float))
    discarded_reason: str | None = Field(default=None, sa_column=Column(Text))
    discarded_by: str | None = Field(default=None, sa_column=Column(Text))
    purged_at: datetime | None = _ts()

    __table_args__ = (
        UniqueConstraint("channel_code", "external_id", name="uq_intake_messages_external"),
        CheckConstraint(
            "status IN ('RECEIVED', 'ACCEPTED', 'INVALID', 'RETRYING', 'DEAD', 'DISCARDED')",
            name="ck_intake_messages_status",
        ),
        Index(
            "ix_intake_failures",
            text("impact_score DESC"),
            "id",
            postgresql_where=text("status IN ('INVALID', 'DEAD')"),
        ),
        Index(
            "ix_intake_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('RECEIVED', 'RETRYING')"),
        ),
        Index("ix_intake_health", "channel_code", "received_at"),
        Index("ix_intake_retention", "received_at", postgresql_where=text("payload IS NOT NULL")),
    )


class DemandForecast(SQLModel, table=True):
    """The FORECAST_DEMAND job's cached result per SKU: daily orders by state over the history,
    the forecast of the next days, and the cap and open supply it was compared with."""

    __tablename__ = "demand_forecasts"
    product_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True),
            ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    sku: str = Field(sa_column=Column(Text, nullable=False))
    computed_at: datetime | None = _created_at()
    method: str = Field(sa_column=Column(String(48), nullable=False))
    history_days: int = Field(sa_column=Column(Integer, nullable=False))
    horizon_days: int = Field(sa_column=Column(Integer, nullable=False))
    history: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    forecast: list[float] = Field(sa_column=Column(JSONB, nullable=False))
    forecast_units: int = Field(sa_column=Column(Integer, nullable=False))
    waiting_units: int = Field(sa_column=Column(Integer, nullable=False))
    cap: int | None = Field(default=None, sa_column=Column(Integer))
    cap_remaining: int | None = Field(default=None, sa_column=Column(Integer))
    open_supply: int = Field(sa_column=Column(Integer, nullable=False))
    flag: str | None = Field(default=None, sa_column=Column(String(16)))

    __table_args__ = (
        CheckConstraint("flag IN ('OVER_CAP', 'OVER_SUPPLY')", name="ck_demand_forecasts_flag"),
        Index(
            "ix_demand_forecasts_flag",
            "flag",
            "sku",
            postgresql_where=text("flag IS NOT NULL"),
        ),
    )
