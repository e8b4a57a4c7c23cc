"""stock guards: units ring-fenced for waiting lines never exceed the stock on hand

``inventory_pools`` RESERVED ``committed`` (units allocated to waiting lines) must stay within
the SKU's ``stock_levels.on_hand`` summed over its locations, or those lines cannot ship. That
spans two tables (and several rows of one), which a CHECK constraint cannot see (it reads only
the row it checks), so it is a deferred constraint trigger: checked at COMMIT, so that a
transaction may pass through a transient state (a dispatch, a stock change releasing ring-fenced
units) as long as it ends within the rule. It fires only when RESERVED grows or on hand shrinks,
never on placement's pool updates (READY, PRE_ORDER, BACKORDER, CHANNEL).

Not a constraint, on purpose: READY (and CHANNEL) ``committed <= capacity`` (``ck_pool_within_cap``
leaves them out). Their capacity is derived (on hand - safety stock - RESERVED - holds) and
drops below what was already sold when stock shrinks after a sale (a count, damage), when
safety stock is raised, or when a hold is lowered; the sold lines still ship. The invariant
checker reports those as warnings (``ready_oversold``, ``channel_over_hold``). Placement's
conditional update is what keeps a sale within READY capacity.

Existing rows are not validated: run ``python -m app check-invariants``
(``reserved_above_on_hand``) before or after upgrading.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK_FUNCTION = """
CREATE FUNCTION oms_check_reserved_on_hand() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
    held integer;
    stock bigint;
    product_sku text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        target := OLD.product_id;
    ELSE
        target := NEW.product_id;
    END IF;
    SELECT ip.committed, p.sku,
           COALESCE((SELECT sum(s.on_hand) FROM stock_levels s
                     WHERE s.product_id = ip.product_id), 0)
      INTO held, product_sku, stock
      FROM inventory_pools ip JOIN products p ON p.id = ip.product_id
     WHERE ip.product_id = target AND ip.kind = 'RESERVED';
    IF held > stock THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'ck_reserved_within_on_hand',
            MESSAGE = held || ' units of ' || product_sku || ' are ring-fenced for waiting lines, '
                      || 'but only ' || stock || ' are on hand';
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    """
    CREATE CONSTRAINT TRIGGER ck_reserved_within_on_hand
    AFTER UPDATE OF committed ON inventory_pools
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'RESERVED' AND NEW.committed > OLD.committed)
    EXECUTE FUNCTION oms_check_reserved_on_hand()
    """,
    """
    CREATE CONSTRAINT TRIGGER ck_on_hand_covers_reserved
    AFTER UPDATE OF on_hand ON stock_levels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.on_hand < OLD.on_hand)
    EXECUTE FUNCTION oms_check_reserved_on_hand()
    """,
    """
    CREATE CONSTRAINT TRIGGER ck_on_hand_covers_reserved_delete
    AFTER DELETE ON stock_levels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.on_hand > 0)
    EXECUTE FUNCTION oms_check_reserved_on_hand()
    """,
)


def upgrade() -> None:
    op.execute(CHECK_FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    op.execute("DROP TRIGGER ck_on_hand_covers_reserved_delete ON stock_levels")
    op.execute("DROP TRIGGER ck_on_hand_covers_reserved ON stock_levels")
    op.execute("DROP TRIGGER ck_reserved_within_on_hand ON inventory_pools")
    op.execute("DROP FUNCTION oms_check_reserved_on_hand()")
