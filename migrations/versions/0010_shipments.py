"""shipments: the warehouse's unit of work

- ``shipments``: lines of one order (or, consolidated, one customer) leaving together, with
  their step (PICKING → PACKED → AWAITING_SHIPMENT → DISPATCHED → DELIVERED, ON_HOLD,
  CANCELLED), work list (``kind``), dispatch deadline, carrier and tracking.
- ``shipment_lines``: which lines a shipment holds (kept after it is cancelled: its history);
  ``order_lines.shipment_id``: the one open or dispatched shipment of a line.
- ``channels.cutoff_time``: work arriving after it (store time) is the next day's;
  ``channels.auto_consolidate``: one customer's lines released together ship as one.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "'PICKING', 'PACKED', 'AWAITING_SHIPMENT', 'DISPATCHED', 'DELIVERED', 'ON_HOLD', 'CANCELLED'"
)


def _run(script: str) -> None:
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(
        f"""
        CREATE TABLE shipments (
            id bigserial PRIMARY KEY,
            number text NOT NULL,
            order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            channel_code varchar(64) NOT NULL REFERENCES channels(code),
            customer_email text NOT NULL,
            kind varchar(16) NOT NULL,
            status varchar(24) NOT NULL DEFAULT 'PICKING',
            held_from varchar(24),
            hold_reason varchar(32),
            hold_note text,
            address jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            region varchar(32),
            carrier_service text,
            carrier text,
            tracking_number text,
            tracking_url text,
            ready_at timestamptz NOT NULL,
            dispatch_deadline timestamptz NOT NULL,
            packed_at timestamptz,
            dispatched_at timestamptz,
            delivered_on date,
            cancelled_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_shipments_number UNIQUE (number),
            CONSTRAINT ck_shipments_status CHECK (status IN ({STATUSES})),
            CONSTRAINT ck_shipments_kind CHECK (kind IN ('READY', 'PRE_ORDER', 'BACKORDER')),
            CONSTRAINT ck_shipments_hold CHECK ((status = 'ON_HOLD') = (held_from IS NOT NULL))
        );
        CREATE INDEX ix_shipments_work ON shipments (kind, dispatch_deadline, id)
            WHERE status IN ('PICKING', 'PACKED', 'AWAITING_SHIPMENT', 'ON_HOLD');
        CREATE INDEX ix_shipments_order ON shipments (order_id, id);
        CREATE INDEX ix_shipments_customer ON shipments (customer_email, id);
        CREATE TABLE shipment_lines (
            shipment_id bigint NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
            line_id bigint NOT NULL REFERENCES order_lines(id) ON DELETE CASCADE,
            PRIMARY KEY (shipment_id, line_id)
        );
        CREATE INDEX ix_shipment_lines_line ON shipment_lines (line_id);
        ALTER TABLE order_lines ADD COLUMN shipment_id bigint REFERENCES shipments(id);
        CREATE INDEX ix_lines_shipment ON order_lines (shipment_id) WHERE shipment_id IS NOT NULL;
        CREATE INDEX ix_lines_to_ship ON order_lines (order_id)
            WHERE shipment_id IS NULL AND status IN ('RESERVED', 'ALLOCATED');
        ALTER TABLE channels ADD COLUMN cutoff_time time,
            ADD COLUMN auto_consolidate boolean NOT NULL DEFAULT false
        """
    )


def downgrade() -> None:
    _run(
        """
        ALTER TABLE channels DROP COLUMN auto_consolidate, DROP COLUMN cutoff_time;
        DROP INDEX ix_lines_to_ship;
        DROP INDEX ix_lines_shipment;
        ALTER TABLE order_lines DROP COLUMN shipment_id;
        DROP TABLE shipment_lines;
        DROP TABLE shipments
        """
    )
