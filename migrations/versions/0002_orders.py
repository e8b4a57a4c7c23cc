"""orders, lines, payment ledger, order events, idempotency keys, customers

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
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
        CREATE SEQUENCE order_number_seq;
        CREATE SEQUENCE queue_seq;

        CREATE TABLE customers (
            email text PRIMARY KEY,
            name text NOT NULL,
            priority boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE orders (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            number text NOT NULL UNIQUE,
            channel_code varchar(64) NOT NULL REFERENCES channels(code),
            customer_email text NOT NULL,
            customer_name text NOT NULL,
            region varchar(32),
            postal_code text,
            address jsonb NOT NULL DEFAULT '{}'::jsonb,
            ship_together boolean NOT NULL DEFAULT false,
            status varchar(24) NOT NULL DEFAULT 'PLACED',
            tags text[] NOT NULL DEFAULT '{}',
            currency varchar(3) NOT NULL,
            total_minor bigint NOT NULL,
            token_hash varchar(64) NOT NULL,
            placed_by text NOT NULL,
            idempotency_key text,
            placed_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_orders_status CHECK (status IN ('PLACED', 'CANCELLED', 'COMPLETED'))
        );
        CREATE INDEX ix_orders_placed ON orders (placed_at DESC, id);
        CREATE INDEX ix_orders_channel ON orders (channel_code, placed_at DESC);
        CREATE INDEX ix_orders_tags ON orders USING gin (tags);
        CREATE INDEX ix_orders_customer ON orders (customer_email);

        CREATE TABLE order_lines (
            id bigserial PRIMARY KEY,
            order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            line_no int NOT NULL,
            sub_no int NOT NULL,
            product_id uuid NOT NULL REFERENCES products(id),
            sku varchar(64) NOT NULL,
            quantity int NOT NULL CHECK (quantity > 0),
            state varchar(16) NOT NULL,
            status varchar(16) NOT NULL,
            pool_kind varchar(16) NOT NULL,
            pool_channel varchar(64),
            unit_price_minor bigint NOT NULL,
            payment_terms varchar(16) NOT NULL,
            shipment_group int NOT NULL,
            queue_seq bigint,
            queued_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (order_id, line_no, sub_no),
            CONSTRAINT ck_line_state CHECK (state IN ('READY', 'PRE_ORDER', 'BACKORDER')),
            CONSTRAINT ck_line_status CHECK (
                status IN ('RESERVED', 'WAITING', 'ALLOCATED', 'CANCELLED', 'SHIPPED')),
            CONSTRAINT ck_line_pool CHECK (
                pool_kind IN ('READY', 'CHANNEL', 'PRE_ORDER', 'BACKORDER')),
            CONSTRAINT ck_line_queue CHECK ((state = 'READY') = (queue_seq IS NULL))
        );
        CREATE INDEX ix_lines_order ON order_lines (order_id);
        CREATE INDEX ix_lines_queue ON order_lines (product_id, queue_seq)
            WHERE status = 'WAITING';
        CREATE INDEX ix_lines_sku ON order_lines (sku);

        CREATE TABLE payment_entries (
            id bigserial PRIMARY KEY,
            order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            line_id bigint REFERENCES order_lines(id),
            kind varchar(16) NOT NULL,
            amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
            currency varchar(3) NOT NULL,
            gateway varchar(32) NOT NULL,
            reference text NOT NULL,
            expires_at timestamptz,
            note text,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_payment_kind CHECK (
                kind IN ('AUTHORIZE', 'CAPTURE', 'REFUND', 'VOID', 'REAUTHORIZE'))
        );
        CREATE INDEX ix_payments_order ON payment_entries (order_id, id);

        CREATE TABLE order_events (
            id bigserial PRIMARY KEY,
            order_id uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            line_id bigint,
            action varchar(48) NOT NULL,
            actor text NOT NULL,
            before jsonb,
            after jsonb,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_order_events_order ON order_events (order_id, id);

        CREATE TABLE idempotency_keys (
            scope text NOT NULL,
            key text NOT NULL,
            request_hash varchar(64) NOT NULL,
            order_id uuid REFERENCES orders(id) ON DELETE SET NULL,
            response jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (scope, key)
        );
        CREATE INDEX ix_idempotency_expiry ON idempotency_keys (expires_at);
        """
    )


def downgrade() -> None:
    _run(
        """
        DROP TABLE idempotency_keys, order_events, payment_entries, order_lines, orders,
                   customers;
        DROP SEQUENCE queue_seq;
        DROP SEQUENCE order_number_seq;
        """
    )
