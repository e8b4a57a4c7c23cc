"""notifications: the messages the relay derives from the event ledger, and what they need

- ``notifications``: one row per (group, recipient, template); the relay inserts them while it
  follows the ledger (``relay_cursors``) and sends them with retries. The Message-ID is made
  when the row is, before any attempt.
- ``email_preferences`` (reminders switched off), ``used_tokens`` (single-use links),
  ``app_secrets`` (the signing key, made once per database), ``delivery_reminders`` (which
  reminder offsets a line had), ``availability_alerts`` ("notify me").
- Events may be about a NOTIFICATION or an ALERT.

The relay starts after the events already recorded: upgrading never mails old orders.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SUBJECTS = "'ORDER', 'LINE', 'SKU', 'SUPPLY', 'CUSTOMER', 'CARRIER_SERVICE', 'POOL', 'SHIPMENT'"
SUBJECTS = OLD_SUBJECTS + ", 'NOTIFICATION', 'ALERT'"
STATUSES = "'PENDING', 'SENDING', 'SENT', 'DEAD', 'UNCONFIRMED', 'SUPPRESSED'"
ALERT_STATUSES = "'PENDING', 'CONFIRMED', 'NOTIFIED', 'CANCELLED'"


def _run(script: str) -> None:
    """asyncpg prepares each statement: run a script one statement at a time."""
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(
        f"""
        ALTER TABLE events DROP CONSTRAINT ck_events_subject;
        ALTER TABLE events ADD CONSTRAINT ck_events_subject CHECK (subject IN ({SUBJECTS}));

        CREATE TABLE notifications (
            id bigserial PRIMARY KEY,
            group_key text NOT NULL,
            event_id bigint NOT NULL REFERENCES events(id),
            kind varchar(48) NOT NULL,
            template varchar(48) NOT NULL,
            recipient text NOT NULL,
            transactional boolean NOT NULL,
            order_id uuid REFERENCES orders(id) ON DELETE CASCADE,
            line_ids bigint[] NOT NULL DEFAULT '{{}}',
            alert_id bigint,
            payload jsonb,
            starts_consent boolean NOT NULL DEFAULT false,
            status varchar(16) NOT NULL DEFAULT 'PENDING',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            lease_until timestamptz,
            message_id text NOT NULL,
            subject text,
            last_error text,
            sent_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_notifications_once UNIQUE (group_key, recipient, template),
            CONSTRAINT uq_notifications_message_id UNIQUE (message_id),
            CONSTRAINT ck_notifications_status CHECK (status IN ({STATUSES})),
            CONSTRAINT ck_notifications_attempts CHECK (attempts >= 0)
        );
        CREATE INDEX ix_notifications_due ON notifications (next_attempt_at, id)
            WHERE status = 'PENDING';
        CREATE INDEX ix_notifications_order ON notifications (order_id, id)
            WHERE order_id IS NOT NULL;
        CREATE INDEX ix_notifications_status ON notifications (status, id);

        CREATE TABLE relay_cursors (
            name varchar(32) PRIMARY KEY,
            tx bigint NOT NULL DEFAULT 0,
            event_id bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO relay_cursors (name, tx, event_id)
        SELECT 'notifications', COALESCE(max(tx::text::bigint), 0), COALESCE(max(id), 0)
        FROM events;

        CREATE TABLE email_preferences (
            email text PRIMARY KEY,
            reminders boolean NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE used_tokens (
            jti varchar(64) PRIMARY KEY,
            purpose varchar(32) NOT NULL,
            used_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE app_secrets (
            name varchar(64) PRIMARY KEY,
            value text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE delivery_reminders (
            line_id bigint NOT NULL REFERENCES order_lines(id) ON DELETE CASCADE,
            offset_days integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (line_id, offset_days)
        );
        CREATE TABLE availability_alerts (
            id bigserial PRIMARY KEY,
            product_id uuid NOT NULL REFERENCES products(id) ON DELETE CASCADE,
            email text NOT NULL,
            channel varchar(64) REFERENCES channels(code),
            status varchar(16) NOT NULL DEFAULT 'PENDING',
            opened_state varchar(16),
            created_at timestamptz NOT NULL DEFAULT now(),
            confirmed_at timestamptz,
            notified_at timestamptz,
            held_until timestamptz,
            CONSTRAINT ck_availability_alerts_status CHECK (status IN ({ALERT_STATUSES}))
        );
        CREATE UNIQUE INDEX uq_availability_alerts_open ON availability_alerts (product_id, email)
            WHERE status IN ('PENDING', 'CONFIRMED');
        CREATE INDEX ix_availability_alerts_queue
            ON availability_alerts (product_id, created_at, id) WHERE status = 'CONFIRMED';
        CREATE INDEX ix_availability_alerts_email ON availability_alerts (email)
        """
    )


def downgrade() -> None:
    _run(
        f"""
        DROP TABLE availability_alerts;
        DROP TABLE delivery_reminders;
        DROP TABLE app_secrets;
        DROP TABLE used_tokens;
        DROP TABLE email_preferences;
        DROP TABLE relay_cursors;
        DROP TABLE notifications;
        DELETE FROM events WHERE subject IN ('NOTIFICATION', 'ALERT');
        ALTER TABLE events DROP CONSTRAINT ck_events_subject;
        ALTER TABLE events ADD CONSTRAINT ck_events_subject CHECK (subject IN ({OLD_SUBJECTS}))
        """
    )
