"""one event ledger: order events, audit rows, stock movements and the outbox become ``events``

Every change the service records is now one row of ``events``: a kind, a subject (order, line,
SKU, supply, ...), the order it belongs to when it does, the actor, a JSON payload (and what it
replaced), a monotonically increasing id and the writing transaction's id (``tx``), which lets
readers follow the stream without skipping rows of transactions still in flight.

The old rows are copied over in their original order (by time); the outbox's DELIVERY_DELAYED
rows duplicated the ``line.delivery_delayed`` order events and are not copied twice.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECTS = "'ORDER', 'LINE', 'SKU', 'SUPPLY', 'CUSTOMER', 'CARRIER_SERVICE', 'POOL', 'SHIPMENT'"


def _run(script: str) -> None:
    """asyncpg prepares each statement: run a script one statement at a time."""
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(
        f"""
        CREATE TABLE events (
            id bigserial PRIMARY KEY,
            tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
            kind varchar(48) NOT NULL,
            subject varchar(16) NOT NULL,
            subject_id text NOT NULL,
            order_id uuid REFERENCES orders(id) ON DELETE CASCADE,
            line_id bigint,
            actor text NOT NULL,
            before jsonb,
            payload jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_events_subject CHECK (subject IN ({SUBJECTS}))
        );
        CREATE INDEX ix_events_order ON events (order_id, id) WHERE order_id IS NOT NULL;
        CREATE INDEX ix_events_subject ON events (subject, subject_id, id)
            WHERE order_id IS NULL;
        CREATE INDEX ix_events_stream ON events (tx, id);

        INSERT INTO events (kind, subject, subject_id, order_id, line_id, actor, before, payload,
                            created_at)
        SELECT kind, subject, subject_id, order_id, line_id, actor, before, payload, created_at
        FROM (
            SELECT action AS kind,
                   CASE WHEN line_id IS NULL THEN 'ORDER' ELSE 'LINE' END AS subject,
                   COALESCE(line_id::text, order_id::text) AS subject_id,
                   order_id, line_id, actor, before, after AS payload, created_at,
                   1 AS source, id
            FROM order_events
            UNION ALL
            SELECT action,
                   CASE entity WHEN 'product' THEN 'SKU' WHEN 'supply' THEN 'SUPPLY'
                               WHEN 'customer' THEN 'CUSTOMER'
                               WHEN 'carrier_service' THEN 'CARRIER_SERVICE'
                               WHEN 'pool' THEN 'POOL' ELSE 'SKU' END,
                   entity_id, NULL, NULL, actor, before, after, created_at, 2, id
            FROM audit_events
            UNION ALL
            SELECT 'stock.moved', 'SKU', p.sku, NULL, NULL, m.actor, NULL,
                   jsonb_build_object('location', m.location_code, 'delta', m.delta,
                                      'onHandAfter', m.on_hand_after, 'reason', m.reason,
                                      'note', m.note),
                   m.created_at, 3, m.id
            FROM stock_movements m JOIN products p ON p.id = m.product_id
            UNION ALL
            SELECT 'sku.released', 'SKU', aggregate_id, NULL, NULL, 'system', NULL, payload,
                   created_at, 4, id
            FROM outbox_events WHERE topic = 'PREORDER_RELEASED'
        ) old
        ORDER BY created_at, source, id;

        DROP TABLE order_events, audit_events, stock_movements, outbox_events
        """
    )


def downgrade() -> None:
    _run(
        """
        CREATE TABLE audit_events (
            id bigserial PRIMARY KEY,
            entity varchar(32) NOT NULL,
            entity_id text NOT NULL,
            action varchar(64) NOT NULL,
            actor text NOT NULL,
            before jsonb,
            after jsonb,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_audit_entity ON audit_events (entity, entity_id, id);
        CREATE TABLE stock_movements (
            id bigserial PRIMARY KEY,
            product_id uuid NOT NULL REFERENCES products(id),
            location_code varchar(64) NOT NULL REFERENCES locations(code),
            delta int NOT NULL,
            on_hand_after int NOT NULL,
            reason varchar(32) NOT NULL,
            note text,
            actor text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_stock_movements_product ON stock_movements (product_id, id);
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

        INSERT INTO order_events (order_id, line_id, action, actor, before, after, created_at)
        SELECT order_id, line_id, kind, actor, before, payload, created_at
        FROM events WHERE order_id IS NOT NULL ORDER BY id;
        INSERT INTO stock_movements (product_id, location_code, delta, on_hand_after, reason,
                                     note, actor, created_at)
        SELECT p.id, e.payload->>'location', (e.payload->>'delta')::int,
               (e.payload->>'onHandAfter')::int, e.payload->>'reason', e.payload->>'note',
               e.actor, e.created_at
        FROM events e JOIN products p ON p.sku = e.subject_id
        WHERE e.kind = 'stock.moved' ORDER BY e.id;
        INSERT INTO outbox_events (topic, aggregate_id, payload, created_at)
        SELECT 'PREORDER_RELEASED', subject_id, payload, created_at
        FROM events WHERE kind = 'sku.released' ORDER BY id;
        INSERT INTO audit_events (entity, entity_id, action, actor, before, after, created_at)
        SELECT CASE subject WHEN 'SKU' THEN 'product' WHEN 'SUPPLY' THEN 'supply'
                            WHEN 'CUSTOMER' THEN 'customer'
                            WHEN 'CARRIER_SERVICE' THEN 'carrier_service'
                            WHEN 'POOL' THEN 'pool' ELSE lower(subject) END,
               subject_id, kind, actor, before, payload, created_at
        FROM events
        WHERE order_id IS NULL AND kind NOT IN ('stock.moved', 'sku.released')
        ORDER BY id;

        DROP TABLE events
        """
    )
