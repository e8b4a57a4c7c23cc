"""runScheduledJob: run a scheduled job now (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.services import scheduler
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.enums import ScheduledJob


@strawberry.input
class RunScheduledJobInput:
    job: ScheduledJob


@strawberry.type
class RunScheduledJobPayload:
    job: ScheduledJob
    ran: bool = strawberry.field(description="False when another replica was running it.")
    result: JSON | None


async def run_scheduled_job(
    info: Info[Context, Any], input: RunScheduledJobInput
) -> RunScheduledJobPayload:
    actor = await require_ops(info)
    ran, result = await scheduler.run_job(info.context.services, scheduler.Job(input.job), actor)
    info.context.loaders.orders_changed()
    return RunScheduledJobPayload(job=input.job, ran=ran, result=result)


FIELD = strawberry.mutation(
    resolver=run_scheduled_job,
    description="Run a scheduled job now (it also runs every OMS_SCHEDULER_SECONDS).",
)
