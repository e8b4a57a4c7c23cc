"""Delivery reminders (the REMIND_DELIVERIES job): a waiting line whose expected delivery is
``OMS_REMINDER_DAYS`` away gets a ``line.delivery_reminder`` event, which the relay turns into
one reminder e-mail per order (customers may switch these off). Each offset is settled once per
line (``delivery_reminders``), so a rerun, another replica or a re-promise never repeats one.
"""

from __future__ import annotations

from typing import Any

from app.domain.events import Event, EventKind, line_event
from app.domain.notifications import reminders_due
from app.services.container import Services
from app.services.results import Actor
from app.storage import ledger
from app.storage import notifications as store


async def remind_deliveries(services: Services, actor: Actor) -> int:
    """Record today's reminders; how many lines got one."""
    offsets = sorted({d for d in services.settings.reminder_days if d > 0})
    if not offsets:
        return 0
    today = services.today()
    async with services.uow() as uow:
        conn = uow.conn
        rows = await store.reminder_candidates(
            conn, today, max(offsets), services.settings.store_timezone
        )
        chosen: dict[int, tuple[int, Any]] = {}
        settle: list[tuple[int, int]] = []
        for row in rows:
            offset, settled = reminders_due(
                row["expected"], row["placed_on"], today, offsets, row["sent"]
            )
            if offset is None:
                continue
            chosen[row["id"]] = (offset, row)
            settle.extend((row["id"], o) for o in settled)
        fresh = await store.settle_reminders(conn, settle)
        events: list[Event] = []
        for line_id in sorted(fresh & chosen.keys()):
            offset, row = chosen[line_id]
            expected = row["expected"]
            events.append(
                line_event(
                    EventKind.LINE_DELIVERY_REMINDER,
                    row["order_id"],
                    line_id,
                    actor.name,
                    {
                        "offsetDays": offset,
                        "daysToGo": (expected - today).days,
                        "expected": expected.isoformat(),
                    },
                )
            )
        await ledger.append(conn, events)
        await uow.commit()
    return len(events)
