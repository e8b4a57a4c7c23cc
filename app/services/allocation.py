"""The step every queue or stock change ends with: serve the queue, then re-open what is left.

``settle`` runs inside the caller's transaction, with the SKUs' pool rows already locked
(``app.storage.allocation.lock_pools``): FIFO allocation of free stock to eligible waiting
lines, READY and channel capacities recomputed from what is left, the SKUs' promises
recomputed, the shipments of lines allocated in full opened, and a NOTIFY so caches on every
replica drop the SKU at commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from app.domain.estimates import PromiseCause
from app.services import promises
from app.services.container import Services
from app.services.shipment_opening import open_after_allocation
from app.storage.allocation import allocate
from app.storage.inventory import recompute_ready
from app.storage.notify import notify_inventory_changed


@dataclass(frozen=True)
class Settled:
    allocated: dict[uuid.UUID, int]
    repromised: int
    delayed: int


async def settle(
    conn: asyncpg.Connection,
    services: Services,
    product_ids: Sequence[uuid.UUID],
    cause: PromiseCause,
    actor: str,
    receipt_ids: Sequence[int | None] | None = None,
) -> Settled:
    ids = list(product_ids)
    allocated = await allocate(conn, ids, services.today(), cause, actor, receipt_ids)
    for product_id in sorted(set(ids)):
        await recompute_ready(conn, product_id)
    result = await promises.recompute(conn, services, ids, cause, actor)
    if allocated:
        # lines allocated in full may ship now: their shipments open in this transaction
        # (after the pool rows, the lines; ``app.services.shipment_opening``)
        await open_after_allocation(conn, services, sorted(allocated), actor)
    await notify_inventory_changed(conn, ids)
    return Settled(allocated, result.lines, result.delayed)
