"""Messages as ops and customers act on them: list them, send one or many again (ops),
switch reminders off from a link (the customer)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from app.domain.events import Event, EventKind, Subject
from app.domain.notifications import NotificationStatus
from app.domain.text import lookup_key
from app.services import policy
from app.services.container import Services
from app.services.error_codes import NotificationErrorCode as E
from app.services.notifications import links
from app.services.results import Actor, Result
from app.storage import ledger
from app.storage import notifications as store

RETRYABLE = (NotificationStatus.DEAD.value, NotificationStatus.UNCONFIRMED.value)
REPLAY_LIMIT = 1000


async def page(
    services: Services,
    statuses: Sequence[str] | None,
    template: str | None,
    recipient: str | None,
    before_id: int | None,
    limit: int,
) -> list[Any]:
    """Newest first: up to ``limit`` rows before ``before_id``."""
    if recipient is not None and not lookup_key(recipient):
        return []  # text that cannot be stored matches no message
    async with services.read() as conn:
        return await store.page(conn, statuses, template, recipient, before_id, limit)


async def count(
    services: Services, statuses: Sequence[str] | None, template: str | None, recipient: str | None
) -> int:
    if recipient is not None and not lookup_key(recipient):
        return 0
    async with services.read() as conn:
        return await store.count(conn, statuses, template, recipient)


async def by_ids(services: Services, ids: list[int]) -> dict[int, Any]:
    async with services.read() as conn:
        return {r["id"]: r for r in await store.by_ids(conn, ids)}


async def by_orders(services: Services, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    async with services.read() as conn:
        rows = await store.by_orders(conn, order_ids)
    grouped: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row["order_id"], []).append(row)
    return grouped


async def untold_delays(services: Services, limit: int) -> list[Any]:
    async with services.read() as conn:
        return await store.untold_delays(conn, limit)


async def retry(services: Services, actor: Actor, notification_id: int) -> Result[Any]:
    """Send a DEAD or UNCONFIRMED message again now (same Message-ID)."""
    if not policy.is_ops(actor):
        return Result.fail(E.NOT_FOUND, "No such message.", "input", "id")
    async with services.uow() as uow:
        found = await store.by_ids(uow.conn, [notification_id])
        if not found:
            return Result.fail(E.NOT_FOUND, "No such message.", "input", "id")
        rows = await store.resend(
            uow.conn, [notification_id], RETRYABLE, None, None, services.now(), 1
        )
        if not rows:
            return Result.fail(
                E.NOT_RETRYABLE,
                f"Only DEAD or UNCONFIRMED messages are sent again (this one is "
                f"{found[0]['status']}).",
                "input",
                "id",
            )
        await ledger.append(uow.conn, [_resent(rows[0], actor)])
        await uow.commit()
    return Result(rows[0])


async def replay(
    services: Services,
    actor: Actor,
    statuses: Sequence[str],
    template: str | None,
    order_id: uuid.UUID | None,
    limit: int,
) -> Result[list[Any]]:
    """Send again every message matching the filter (at most ``limit``, ≤ 1000): after an
    outage, DEAD ones; for a customer who lost their mail, SENT ones of their order."""
    if not policy.is_ops(actor):
        return Result.fail(E.NOT_FOUND, "No such message.", "input")
    if not statuses:
        return Result.fail(E.INVALID, "Name at least one status.", "input", "filter", "statuses")
    if not 1 <= limit <= REPLAY_LIMIT:
        return Result.fail(E.INVALID, f"1 to {REPLAY_LIMIT} messages.", "input", "limit")
    if NotificationStatus.SENDING.value in statuses:
        return Result.fail(
            E.INVALID, "A message being sent cannot be replayed.", "input", "filter", "statuses"
        )
    async with services.uow() as uow:
        rows = await store.resend(
            uow.conn, None, statuses, template, order_id, services.now(), limit
        )
        await ledger.append(uow.conn, [_resent(row, actor) for row in rows])
        await uow.commit()
    return Result(rows)


def _resent(row: Any, actor: Actor) -> Event:
    return Event(
        EventKind.NOTIFICATION_RESENT,
        Subject.NOTIFICATION,
        str(row["id"]),
        actor.name,
        {"resend": True, "template": row["template"]},
        order_id=row["order_id"],
    )


async def unsubscribe(services: Services, token: str) -> Result[str]:
    """Switch reminders off for the address in an unsubscribe link (transactional messages
    are always sent). Using the link again is harmless."""
    opened = await links.read(services, links.Purpose.UNSUBSCRIBE, token, links.UNSUBSCRIBE_DAYS)
    if opened.data is None or not isinstance(opened.data.get("e"), str):
        code = E.LINK_EXPIRED if opened.problem == "EXPIRED" else E.INVALID_LINK
        return Result.fail(code, "This unsubscribe link is not valid.", "input", "token")
    email: str = opened.data["e"]
    async with services.uow() as uow:
        if await store.set_reminders(uow.conn, email, False):
            await ledger.append(
                uow.conn,
                [
                    Event(
                        EventKind.CUSTOMER_UNSUBSCRIBED,
                        Subject.CUSTOMER,
                        email.lower(),
                        "customer",
                        {"reminders": False},
                    )
                ],
            )
        await uow.commit()
    return Result(email)
