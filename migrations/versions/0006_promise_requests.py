"""promise requests: SKUs whose waiting lines must be re-promised whole

A PRIORITY order placed on a PRIORITY_FIRST SKU goes ahead of lines promised already; its
placement records the SKU here (in the same transaction) and the PROMISE_NEW_LINES job
re-promises the SKU's queue.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE promise_requests (
            product_id uuid PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
            requested_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE promise_requests")
