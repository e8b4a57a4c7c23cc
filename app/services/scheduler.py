"""Scheduled jobs, safe with several replicas.

Each run of a job holds a PostgreSQL advisory lock named after it on one connection, so one
replica at a time runs a given job (the others skip that round); inside, the jobs pick rows
with ``SKIP LOCKED`` as well. Each run is recorded in ``scheduler_runs``.

Jobs: ``RELEASE_PREORDERS`` (launch day, store time zone), ``PROMISE_NEW_LINES`` (SKUs a
PRIORITY order went ahead in; lines without a first promise), ``EXPIRE_DELAY_CONSENTS``
(unanswered delays follow the store policy), ``RENEW_AUTHORIZATIONS`` (authorizations that
would expire before the goods ship), ``REMIND_DELIVERIES`` (reminders before expected
deliveries), ``SEND_NOTIFICATIONS`` (one round of the e-mail relay, which also runs on its
own loop: ``OMS_MAIL_RELAY_SECONDS``) and ``OPEN_SHIPMENTS`` (shipments for READY lines and
everything else that can ship and is in none; shipments left without lines are cancelled),
``RETRY_INTAKE`` (intake payloads whose next attempt is due) and ``PURGE_INTAKE_PAYLOADS``
(raw intake payloads past ``OMS_INTAKE_RETENTION_DAYS``). ``FORECAST_DEMAND``: the ops
dashboard's demand forecasts (on its own at most every ``ops_dashboard.FORECAST_EVERY``; at
once from ``runScheduledJob``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from app.domain.estimates import PromiseCause
from app.services import ops_dashboard, promises, queue
from app.services.container import Services
from app.services.intake import process as intake
from app.services.notifications import relay
from app.services.notifications.alerts import release_alerts
from app.services.notifications.reminders import remind_deliveries
from app.services.orders.payments import renew_authorizations
from app.services.results import SYSTEM, Actor
from app.services.shipment_opening import open_all
from app.storage import scheduler as store
from app.storage.allocation import lock_pools
from app.storage.promises import (
    requested_skus,
    skus_with_unpromised_lines,
    take_promise_requests,
)

log = logging.getLogger(__name__)


class Job(StrEnum):
    RELEASE_PREORDERS = "RELEASE_PREORDERS"
    PROMISE_NEW_LINES = "PROMISE_NEW_LINES"
    EXPIRE_DELAY_CONSENTS = "EXPIRE_DELAY_CONSENTS"
    RENEW_AUTHORIZATIONS = "RENEW_AUTHORIZATIONS"
    REMIND_DELIVERIES = "REMIND_DELIVERIES"
    SEND_NOTIFICATIONS = "SEND_NOTIFICATIONS"
    RELEASE_AVAILABILITY_ALERTS = "RELEASE_AVAILABILITY_ALERTS"
    OPEN_SHIPMENTS = "OPEN_SHIPMENTS"
    RETRY_INTAKE = "RETRY_INTAKE"
    PURGE_INTAKE_PAYLOADS = "PURGE_INTAKE_PAYLOADS"
    FORECAST_DEMAND = "FORECAST_DEMAND"


async def promise_new_lines(services: Services, actor: Actor) -> int:
    """Re-promise the SKUs a PRIORITY order went ahead in (their whole queue), and record the
    first promise of any waiting line that has none (placement records it; lines placed by an
    earlier version may lack it)."""
    async with services.uow() as uow:
        requested = await requested_skus(uow.conn)
        rows = await skus_with_unpromised_lines(uow.conn)
        if not rows and not requested:
            return 0
        # pools first, then the requests: the order placement takes them in
        await lock_pools(uow.conn, sorted({*requested, *(r["product_id"] for r in rows)}))
        lines = 0
        if requested:
            await take_promise_requests(uow.conn, requested)
            result = await promises.recompute(
                uow.conn, services, requested, PromiseCause.PRIORITY_CHANGED, actor.name
            )
            lines += result.lines
        # Under PRIORITY_FIRST an unpromised PRIORITY line may be ahead of lines promised
        # already: those SKUs are re-promised whole (a FIFO line only ever joins at the end).
        # A line's first promise is caused by its placement whatever the cause given here.
        for priority_first in (False, True):
            ids = [r["product_id"] for r in rows if r["priority_first"] == priority_first]
            result = await promises.recompute(
                uow.conn,
                services,
                ids,
                PromiseCause.PRIORITY_CHANGED if priority_first else PromiseCause.PLACED,
                actor.name,
                only_new=not priority_first,
            )
            lines += result.lines
        await uow.commit()
    return lines


async def _release(services: Services, actor: Actor) -> Any:
    return await queue.release_preorders(services, actor)


async def _renew(services: Services, actor: Actor) -> Any:
    result = await renew_authorizations(services, actor)
    return result.value


async def _send(services: Services, actor: Actor) -> Any:
    return (await relay.run_once(services)).as_dict()


JOBS: dict[Job, Callable[[Services, Actor], Awaitable[Any]]] = {
    Job.RELEASE_PREORDERS: _release,
    Job.PROMISE_NEW_LINES: promise_new_lines,
    Job.EXPIRE_DELAY_CONSENTS: queue.expire_delay_consents,
    Job.RENEW_AUTHORIZATIONS: _renew,
    Job.REMIND_DELIVERIES: remind_deliveries,
    Job.SEND_NOTIFICATIONS: _send,
    Job.RELEASE_AVAILABILITY_ALERTS: release_alerts,
    Job.OPEN_SHIPMENTS: open_all,
    Job.RETRY_INTAKE: intake.retry_due,
    Job.PURGE_INTAKE_PAYLOADS: intake.purge_payloads,
    Job.FORECAST_DEMAND: ops_dashboard.forecast_demand,
}


def _lock_key(job: Job) -> int:
    return zlib.crc32(f"oms-job:{job.value}".encode())


async def run_job(services: Services, job: Job, actor: Actor = SYSTEM) -> tuple[bool, Any]:
    """Run one job now unless another replica is running it: (ran, result)."""
    async with services.uow() as lock:
        if not await store.try_lock(lock.conn, _lock_key(job)):
            return False, None
        try:
            await store.run_started(lock.conn, job.value)
            await lock.commit()
            result = await JOBS[job](services, actor)
            async with services.uow() as record:
                await store.run_finished(record.conn, job.value, result)
                await record.commit()
        finally:
            await store.unlock(lock.conn, _lock_key(job))
    return True, result


async def run_forever(services: Services, interval: float, stopping: asyncio.Event) -> None:
    """The in-process scheduler loop of one replica; errors are logged, never fatal. It stops
    between jobs once ``stopping`` is set (a job is never cancelled half-way through its
    transaction)."""
    while not stopping.is_set():
        for job in Job:
            if stopping.is_set():
                return
            try:
                ran, result = await run_job(services, job)
                if ran and result:
                    log.info("scheduled job ran", extra={"job": job.value, "result": result})
            except Exception:
                log.exception("scheduled job failed", extra={"job": job.value})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
