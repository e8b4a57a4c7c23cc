"""intake: one governed door for every channel's orders

- ``events.subject`` may be ``INTAKE`` (an intake message's changes).
- ``intake_channels``: which adapter reads a channel's webhooks and its validation rules
  (JSON, ``app.domain.intake.rules``); ``intake_account_rules``: an account's overrides (a B2B
  buyer, a shop's till) on top of its channel's.
- ``channel_sku_map``: a channel's own SKU codes mapped to ours.
- ``intake_batches``: a till upload as received (JSON lines or CSV).
- ``intake_messages``: every order payload as received (raw, before anything is read), one
  per (channel, external order id): its status (RECEIVED → ACCEPTED | INVALID | RETRYING →
  DEAD; DISCARDED by ops), attempts and next attempt, last error, the order it became, and
  what ranks it as a dead letter (value, units, SLA deadline, impact score). The payload is
  emptied after the retention period (``purged_at``).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'RECEIVED', 'ACCEPTED', 'INVALID', 'RETRYING', 'DEAD', 'DISCARDED'"
SUBJECTS = (
    "'ORDER', 'LINE', 'SKU', 'SUPPLY', 'CUSTOMER', 'CARRIER_SERVICE', 'POOL', 'SHIPMENT', "
    "'NOTIFICATION', 'ALERT', 'CHANNEL'"
)


def _subjects(allowed: str) -> None:
    op.execute("ALTER TABLE events DROP CONSTRAINT ck_events_subject")
    op.execute(
        f"ALTER TABLE events ADD CONSTRAINT ck_events_subject CHECK (subject IN ({allowed}))"
    )


def _run(script: str) -> None:
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _subjects(SUBJECTS + ", 'INTAKE'")
    _run(
        f"""
        CREATE TABLE intake_channels (
            channel_code varchar(64) PRIMARY KEY REFERENCES channels(code),
            adapter varchar(32) NOT NULL,
            rules jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE intake_account_rules (
            channel_code varchar(64) NOT NULL
                REFERENCES intake_channels(channel_code) ON DELETE CASCADE,
            account varchar(64) NOT NULL,
            rules jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (channel_code, account)
        );
        CREATE TABLE channel_sku_map (
            channel_code varchar(64) NOT NULL REFERENCES channels(code),
            external_sku varchar(64) NOT NULL,
            sku varchar(64) NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (channel_code, external_sku)
        );
        CREATE TABLE intake_batches (
            id bigserial PRIMARY KEY,
            channel_code varchar(64) NOT NULL REFERENCES channels(code),
            content_type varchar(32) NOT NULL,
            payload bytea,
            rows integer NOT NULL DEFAULT 0,
            received_at timestamptz NOT NULL,
            purged_at timestamptz
        );
        CREATE TABLE intake_messages (
            id bigserial PRIMARY KEY,
            channel_code varchar(64) NOT NULL REFERENCES channels(code),
            adapter varchar(32) NOT NULL,
            external_id varchar(128),
            account varchar(64),
            batch_id bigint REFERENCES intake_batches(id) ON DELETE SET NULL,
            payload bytea,
            payload_sha256 char(64) NOT NULL,
            received_at timestamptz NOT NULL,
            deliveries integer NOT NULL DEFAULT 1,
            status varchar(16) NOT NULL DEFAULT 'RECEIVED',
            attempts integer NOT NULL DEFAULT 0,
            replay_no integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            error_code varchar(48),
            error_message text,
            errors jsonb,
            order_id uuid REFERENCES orders(id) ON DELETE SET NULL,
            currency char(3),
            value_minor bigint,
            units integer,
            sla_deadline timestamptz,
            impact_score double precision NOT NULL DEFAULT 0,
            processed_at timestamptz,
            latency_ms double precision,
            discarded_reason text,
            discarded_by text,
            purged_at timestamptz,
            CONSTRAINT uq_intake_messages_external UNIQUE (channel_code, external_id),
            CONSTRAINT ck_intake_messages_status CHECK (status IN ({STATUSES}))
        );
        CREATE INDEX ix_intake_failures ON intake_messages (impact_score DESC, id)
            WHERE status IN ('INVALID', 'DEAD');
        CREATE INDEX ix_intake_due ON intake_messages (next_attempt_at)
            WHERE status IN ('RECEIVED', 'RETRYING');
        CREATE INDEX ix_intake_health ON intake_messages (channel_code, received_at);
        CREATE INDEX ix_intake_retention ON intake_messages (received_at)
            WHERE payload IS NOT NULL
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE subject = 'INTAKE'")
    _subjects(SUBJECTS)
    _run(
        """
        DROP TABLE intake_messages;
        DROP TABLE intake_batches;
        DROP TABLE channel_sku_map;
        DROP TABLE intake_account_rules;
        DROP TABLE intake_channels
        """
    )
