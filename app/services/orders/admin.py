"""Order administration: tags (PRIORITY among them) and customer priority."""

from __future__ import annotations

import uuid

from app.domain.estimates import PromiseCause
from app.domain.events import Event, EventKind, Subject, order_event
from app.domain.placement import normalise_tags
from app.domain.text import clean_text, lookup_key
from app.services import policy
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import OrderErrorCode as E
from app.services.results import Actor, Result
from app.storage import ledger
from app.storage import orders as store
from app.storage.allocation import lock_pools

MAX_TAG = 64


async def tag_order(
    services: Services, actor: Actor, order_id: uuid.UUID, add: list[str], remove: list[str]
) -> Result[uuid.UUID]:
    if not all(clean_text(t, MAX_TAG, one_line=True) for t in [*add, *remove]):
        return Result.fail(
            E.INVALID,
            f"Tags are one line of at most {MAX_TAG} characters of text that can be stored.",
            "input",
            "add",
        )
    clean_add = normalise_tags(add)
    clean_remove = normalise_tags(remove)
    if not clean_add and not clean_remove:
        return Result.fail(E.INVALID, "Give tags to add or remove.", "input", "add")
    async with services.uow() as uow:
        conn = uow.conn
        row = await store.lock_order(conn, order_id)
        if row is None or not policy.may_manage_order(actor, row["channel_code"]):
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "id")
        before = sorted(row["tags"])
        after = sorted((set(before) | set(clean_add)) - set(clean_remove))
        await store.set_tags(conn, order_id, after)
        await ledger.append(
            conn,
            [
                order_event(
                    EventKind.ORDER_TAGGED, order_id, actor.name, {"tags": after}, {"tags": before}
                )
            ],
        )
        if "PRIORITY" in set(before) ^ set(after):
            # Under PRIORITY_FIRST the order's waiting lines moved in their queues: the next
            # units follow the new order and every line of those SKUs is re-promised.
            product_ids = await store.waiting_skus_under_priority_first(conn, order_id)
            if product_ids:
                await lock_pools(conn, product_ids)
                await settle(conn, services, product_ids, PromiseCause.PRIORITY_CHANGED, actor.name)
        await uow.commit()
    return Result(order_id)


async def set_customer_priority(
    services: Services, actor: Actor, email: str, priority: bool
) -> Result[bool]:
    if not lookup_key(email):  # no customer can have it
        return Result.fail(E.NOT_FOUND, f"No customer {email!r}.", "email")
    async with services.uow() as uow:
        conn = uow.conn
        before = await store.lock_customer_priority(conn, email)
        if before is None:
            return Result.fail(E.NOT_FOUND, f"No customer {email!r}.", "email")
        await store.set_customer_priority(conn, email, priority)
        await ledger.append(
            conn,
            [
                Event(
                    EventKind.CUSTOMER_PRIORITY_SET,
                    Subject.CUSTOMER,
                    email,
                    actor.name,
                    {"priority": priority},
                    {"priority": before},
                )
            ],
        )
        await uow.commit()
    return Result(priority)
