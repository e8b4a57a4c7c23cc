"""supply: look-ups of a supplier's latest deliveries (its lateness history)

Promises widen a supplier's window by the 95th percentile of its recent lateness
(``app.domain.estimates``); the product snapshot and the re-promise read the 20 latest
received supply records of each open one's supplier (of the SKU, for production runs).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_supply_received_supplier ON supply (supplier_code, kind, id DESC) "
        "WHERE status = 'RECEIVED' AND supplier_code IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_supply_received_product ON supply (product_id, kind, id DESC) "
        "WHERE status = 'RECEIVED' AND supplier_code IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_supply_received_product")
    op.execute("DROP INDEX ix_supply_received_supplier")
