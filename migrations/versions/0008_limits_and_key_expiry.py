"""per-channel unit limits, and API keys that expire

- ``channels.max_units_per_line`` / ``max_units_per_customer_sku``: how much one order line,
  and one customer across their open orders of a SKU, may take on that channel (null: the
  settings' defaults).
- ``api_keys.expires_at``: a key stops working then (null: never).
- Events may be about a CHANNEL (its limits changed).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BEFORE = (
    "'ORDER', 'LINE', 'SKU', 'SUPPLY', 'CUSTOMER', 'CARRIER_SERVICE', 'POOL', 'SHIPMENT', "
    "'NOTIFICATION', 'ALERT'"
)
AFTER = BEFORE + ", 'CHANNEL'"


def _subjects(allowed: str) -> None:
    op.execute("ALTER TABLE events DROP CONSTRAINT ck_events_subject")
    op.execute(
        f"ALTER TABLE events ADD CONSTRAINT ck_events_subject CHECK (subject IN ({allowed}))"
    )


def upgrade() -> None:
    _subjects(AFTER)
    op.execute(
        "ALTER TABLE channels ADD COLUMN max_units_per_line integer, "
        "ADD COLUMN max_units_per_customer_sku integer, "
        "ADD CONSTRAINT ck_channel_limits CHECK ("
        "(max_units_per_line IS NULL OR max_units_per_line > 0) AND "
        "(max_units_per_customer_sku IS NULL OR max_units_per_customer_sku > 0))"
    )
    op.execute("ALTER TABLE api_keys ADD COLUMN expires_at timestamptz")


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE subject = 'CHANNEL'")
    _subjects(BEFORE)
    op.execute("ALTER TABLE api_keys DROP COLUMN expires_at")
    op.execute(
        "ALTER TABLE channels DROP CONSTRAINT ck_channel_limits, "
        "DROP COLUMN max_units_per_customer_sku, DROP COLUMN max_units_per_line"
    )
