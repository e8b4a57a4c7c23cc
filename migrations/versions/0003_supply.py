"""supply, goods receipts, FIFO allocations, pause/resume, delivery promises, outbox, scheduler

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run(script: str) -> None:
    """asyncpg prepares each statement: run a script one statement at a time."""
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(
        """
        ALTER TABLE products
            ADD COLUMN released_at timestamptz,
            ADD COLUMN allocation_policy varchar(16) NOT NULL DEFAULT 'FIFO',
            ADD CONSTRAINT ck_products_allocation_policy
                CHECK (allocation_policy IN ('FIFO', 'PRIORITY_FIRST'));

        CREATE TABLE suppliers (
            code varchar(64) PRIMARY KEY,
            name text NOT NULL,
            lead_time_days int NOT NULL DEFAULT 0,
            receipts int NOT NULL DEFAULT 0,
            on_time_receipts int NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_suppliers_counts CHECK (
                lead_time_days >= 0 AND on_time_receipts >= 0 AND receipts >= on_time_receipts)
        );

        CREATE TABLE supply (
            id bigserial PRIMARY KEY,
            kind varchar(16) NOT NULL,
            product_id uuid NOT NULL REFERENCES products(id),
            location_code varchar(64) NOT NULL REFERENCES locations(code),
            supplier_code varchar(64) REFERENCES suppliers(code),
            reference text NOT NULL,
            quantity int NOT NULL,
            received_quantity int NOT NULL DEFAULT 0,
            expected_on date NOT NULL,
            original_expected_on date NOT NULL,
            lead_time_days int,
            units_per_day int,
            run_days int,
            status varchar(16) NOT NULL DEFAULT 'OPEN',
            slips int NOT NULL DEFAULT 0,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            closed_at timestamptz,
            CONSTRAINT ck_supply_kind CHECK (kind IN ('PURCHASE_ORDER', 'PRODUCTION_RUN')),
            CONSTRAINT ck_supply_status CHECK (status IN ('OPEN', 'RECEIVED', 'CANCELLED')),
            CONSTRAINT ck_supply_quantity CHECK (quantity > 0 AND received_quantity >= 0),
            CONSTRAINT ck_supply_run CHECK (
                (kind = 'PRODUCTION_RUN') = (units_per_day IS NOT NULL AND run_days IS NOT NULL)),
            CONSTRAINT ck_supply_run_positive CHECK (
                units_per_day IS NULL OR (units_per_day > 0 AND run_days > 0))
        );
        CREATE INDEX ix_supply_open ON supply (product_id, expected_on, id)
            WHERE status = 'OPEN';
        CREATE INDEX ix_supply_product ON supply (product_id, id);

        CREATE TABLE goods_receipts (
            id bigserial PRIMARY KEY,
            product_id uuid NOT NULL REFERENCES products(id),
            location_code varchar(64) NOT NULL REFERENCES locations(code),
            supply_id bigint REFERENCES supply(id),
            quantity int NOT NULL CHECK (quantity > 0),
            reference text NOT NULL,
            allocated int NOT NULL DEFAULT 0,
            held_for_launch int NOT NULL DEFAULT 0,
            to_stock int NOT NULL DEFAULT 0,
            on_time boolean,
            actor text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_receipts_product ON goods_receipts (product_id, id);

        ALTER TABLE order_lines
            ADD COLUMN allocated int NOT NULL DEFAULT 0,
            ADD COLUMN paused_at timestamptz,
            ADD COLUMN promised_earliest date,
            ADD COLUMN promised_latest date,
            ADD COLUMN promise_confidence varchar(8),
            ADD COLUMN promised_at timestamptz,
            ADD COLUMN delay_consent varchar(24),
            ADD COLUMN consent_due_at timestamptz,
            ADD COLUMN shipped_at timestamptz,
            ADD COLUMN delivered_on date,
            ADD CONSTRAINT ck_line_allocated CHECK (allocated >= 0 AND allocated <= quantity),
            ADD CONSTRAINT ck_line_consent CHECK (delay_consent IS NULL OR delay_consent IN (
                'REQUESTED', 'ACCEPTED', 'CANCELLED', 'DEFAULT_ACCEPTED', 'DEFAULT_CANCELLED'));
        CREATE INDEX ix_lines_consent_due ON order_lines (consent_due_at)
            WHERE delay_consent = 'REQUESTED';
        CREATE INDEX ix_lines_unpromised ON order_lines (product_id)
            WHERE promised_at IS NULL AND status IN ('WAITING', 'ALLOCATED');
        CREATE INDEX ix_lines_delivered ON order_lines (product_id)
            WHERE delivered_on IS NOT NULL;

        CREATE TABLE allocations (
            id bigserial PRIMARY KEY,
            line_id bigint NOT NULL REFERENCES order_lines(id) ON DELETE CASCADE,
            product_id uuid NOT NULL REFERENCES products(id),
            receipt_id bigint REFERENCES goods_receipts(id),
            quantity int NOT NULL CHECK (quantity <> 0),
            cause varchar(32) NOT NULL,
            actor text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_allocations_line ON allocations (line_id, id);
        CREATE INDEX ix_allocations_receipt ON allocations (receipt_id);

        CREATE TABLE line_promises (
            id bigserial PRIMARY KEY,
            line_id bigint NOT NULL REFERENCES order_lines(id) ON DELETE CASCADE,
            earliest date,
            latest date,
            confidence varchar(8) NOT NULL,
            supply_id bigint,
            reason text,
            cause varchar(32) NOT NULL,
            delayed_days int NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_line_promises_line ON line_promises (line_id, id);

        CREATE TABLE outbox_events (
            id bigserial PRIMARY KEY,
            topic varchar(48) NOT NULL,
            aggregate_id text NOT NULL,
            payload jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX ix_outbox_unpublished ON outbox_events (id) WHERE published_at IS NULL;
        CREATE INDEX ix_outbox_topic ON outbox_events (topic, id);

        CREATE TABLE scheduler_runs (
            job varchar(48) PRIMARY KEY,
            last_started_at timestamptz,
            last_finished_at timestamptz,
            last_result jsonb,
            runs bigint NOT NULL DEFAULT 0
        );
        """
    )


def downgrade() -> None:
    _run(
        """
        DROP TABLE scheduler_runs, outbox_events, line_promises, allocations;
        DROP INDEX ix_lines_consent_due;
        DROP INDEX ix_lines_unpromised;
        DROP INDEX ix_lines_delivered;
        ALTER TABLE order_lines
            DROP CONSTRAINT ck_line_allocated, DROP CONSTRAINT ck_line_consent,
            DROP COLUMN allocated, DROP COLUMN paused_at, DROP COLUMN promised_earliest,
            DROP COLUMN promised_latest, DROP COLUMN promise_confidence, DROP COLUMN promised_at,
            DROP COLUMN delay_consent, DROP COLUMN consent_due_at, DROP COLUMN shipped_at,
            DROP COLUMN delivered_on;
        DROP TABLE goods_receipts, supply, suppliers;
        ALTER TABLE products DROP CONSTRAINT ck_products_allocation_policy,
            DROP COLUMN released_at, DROP COLUMN allocation_policy;
        """
    )
