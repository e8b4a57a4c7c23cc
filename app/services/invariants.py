"""The invariant checker: are all counters still explained by rows? (``docs/invariants.md``)

``check`` only reads, in one read-only REPEATABLE READ transaction, so every check sees the
same snapshot even while orders are being placed. ``repair_counters`` writes, and only when
asked for explicitly (``python -m app check-invariants --repair``).
"""

from __future__ import annotations

from app.domain.events import Event, EventKind, Subject
from app.services.container import Services
from app.services.results import SYSTEM, Actor
from app.storage import invariants as store
from app.storage import ledger
from app.storage.invariants import ERROR, WARNING, PoolRepair, Violation
from app.storage.notify import notify_inventory_changed

__all__ = ["ERROR", "WARNING", "PoolRepair", "Violation", "check", "repair_counters"]


async def check(services: Services) -> list[Violation]:
    """Every violation (errors and warnings) of every invariant, over all SKUs and orders."""
    async with (
        services.read() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        return await store.find_violations(conn)


async def repair_counters(services: Services, actor: Actor = SYSTEM) -> list[PoolRepair]:
    """Recompute drifted pools' ``committed`` from their open order lines, in one transaction.

    Each changed pool gets a ``POOL_REPAIRED`` event in the ledger (before and after) and an
    inventory-changed signal so caches drop it. Capacities are not touched: a stale READY
    capacity is recomputed by the next stock, safety-stock or channel-hold change of that SKU.
    """
    async with services.uow() as uow:
        repairs = await store.repair_committed(uow.conn)
        events = []
        for repair in repairs:
            where = {"sku": repair.sku, "kind": repair.kind, "channel": repair.channel}
            events.append(
                Event(
                    EventKind.POOL_REPAIRED,
                    Subject.POOL,
                    str(repair.pool_id),
                    actor.name,
                    {**where, "committed": repair.after},
                    {**where, "committed": repair.before},
                )
            )
        await ledger.append(uow.conn, events)
        await notify_inventory_changed(uow.conn, sorted({r.product_id for r in repairs}))
        await uow.commit()
    return repairs
