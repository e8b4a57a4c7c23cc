"""carrier services: transit days per region and service

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE carrier_services (
            region_code varchar(32) NOT NULL REFERENCES regions(code),
            code varchar(32) NOT NULL,
            name text NOT NULL,
            transit_min_days int NOT NULL,
            transit_max_days int NOT NULL,
            PRIMARY KEY (region_code, code),
            CONSTRAINT ck_carrier_transit CHECK (
                transit_min_days >= 0 AND transit_max_days >= transit_min_days)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE carrier_services")
