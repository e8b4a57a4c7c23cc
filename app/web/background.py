"""The background loops of a process: the scheduled jobs and the e-mail relay.

``serve`` runs them beside the API unless ``OMS_SCHEDULER_SECONDS`` / ``OMS_MAIL_RELAY_SECONDS``
are 0; ``python -m app worker`` (``app.web.worker``) runs them without the API, so that
rendering and sending e-mail never shares an event loop with placement. Both loops are safe
with any number of processes: every job takes its advisory lock, and the relay claims messages
with ``SKIP LOCKED`` under a lease (``app.services.notifications.relay``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from app.services.container import Services
from app.services.notifications import relay
from app.services.scheduler import run_forever
from app.settings import Settings

log = structlog.stdlib.get_logger("app.background")

DRAIN_SECONDS = 30


def loops_enabled(settings: Settings) -> list[str]:
    """The loops this process would run, by name (empty: neither)."""
    named = {"scheduler": settings.scheduler_seconds, "mail-relay": settings.mail_relay_seconds}
    return [name for name, seconds in named.items() if seconds > 0]


@contextlib.asynccontextmanager
async def background_loops(
    services: Services, settings: Settings, mail_wake: asyncio.Event
) -> AsyncIterator[list[str]]:
    """Start the enabled loops; on exit let a running job or send finish its transaction (up
    to ``DRAIN_SECONDS``) and cancel only one that is stuck. Yields the loops' names."""
    stopping = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if settings.scheduler_seconds > 0:
        tasks.append(
            asyncio.create_task(
                run_forever(services, settings.scheduler_seconds, stopping), name="oms-scheduler"
            )
        )
    if settings.mail_relay_seconds > 0:
        tasks.append(
            asyncio.create_task(
                relay.run_forever(services, settings.mail_relay_seconds, mail_wake, stopping),
                name="oms-mail-relay",
            )
        )
    try:
        yield loops_enabled(settings)
    finally:
        stopping.set()
        for task in tasks:
            try:
                await asyncio.wait_for(asyncio.shield(task), DRAIN_SECONDS)
            except TimeoutError:
                log.warning("background_loop_cancelled", loop=task.get_name())
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
