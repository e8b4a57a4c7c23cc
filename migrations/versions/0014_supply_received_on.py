"""supply: the day a supply record was received in full

A supplier's lateness history (``app.storage.inventory.LATENESS_HISTORY_SQL``) is the days
from each delivery's first expected date to the day it came, early (negative) or late, told
or not. ``expected_on`` stays what it is, the last announced date (every change of it is in
the supply's history with its reason); ``received_on`` is when the last unit came. Records
received before this revision have none, and their history falls back to ``expected_on``.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE supply ADD COLUMN received_on date")


def downgrade() -> None:
    op.execute("ALTER TABLE supply DROP COLUMN received_on")
