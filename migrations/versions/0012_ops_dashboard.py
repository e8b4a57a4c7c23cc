"""ops dashboard: order confirmation times and the cached demand forecasts

- ``orders.confirmed_at``: when the order's row was written inside its placement transaction
  (the database's ``clock_timestamp()``, a column default: placement's statements are
  unchanged). ``confirmed_at - placed_at`` (placed_at: the service clock when placement began)
  is the order's confirmation latency, stored with the order, so every replica's orders count
  in its percentiles. Orders placed before this revision have none.
- ``demand_forecasts``: the FORECAST_DEMAND job's result per SKU (daily orders by state, the
  forecast of the next weeks, the cap and open supply it was compared with, the flag). Read by
  the ``demandForecasts`` query; computed off the request path.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN confirmed_at timestamptz DEFAULT clock_timestamp()")
    op.execute(
        """
        CREATE TABLE demand_forecasts (
            product_id uuid PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
            sku text NOT NULL,
            computed_at timestamptz NOT NULL DEFAULT now(),
            method varchar(48) NOT NULL,
            history_days integer NOT NULL,
            horizon_days integer NOT NULL,
            history jsonb NOT NULL,
            forecast jsonb NOT NULL,
            forecast_units integer NOT NULL,
            waiting_units integer NOT NULL,
            cap integer,
            cap_remaining integer,
            open_supply integer NOT NULL,
            flag varchar(16),
            CONSTRAINT ck_demand_forecasts_flag CHECK (flag IN ('OVER_CAP', 'OVER_SUPPLY'))
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_demand_forecasts_flag ON demand_forecasts (flag, sku) "
        "WHERE flag IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE demand_forecasts")
    op.execute("ALTER TABLE orders DROP COLUMN confirmed_at")
