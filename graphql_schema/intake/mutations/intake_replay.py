"""replayIntake: put every failed payload matching a filter back in line (ops)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.domain.intake import IntakeStatus
from app.services.intake import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import IntakeError, input_errors, user_errors
from graphql_schema.intake.types import IntakeMessage


@strawberry.input(description="Which failed payloads to try again.")
class IntakeReplayFilter:
    channel: str | None = None
    statuses: list[IntakeStatus] = strawberry.field(
        default_factory=lambda: [IntakeStatus.DEAD],
        description="INVALID, DEAD and/or RETRYING (default DEAD).",
    )
    error_code: str | None = strawberry.field(
        default=None, description="Only those whose last failure had this code."
    )
    received_since: datetime | None = None
    received_before: datetime | None = None


@strawberry.input
class ReplayIntakeInput:
    filter: IntakeReplayFilter
    limit: int = strawberry.field(default=100, description="At most this many (up to 1000).")


@strawberry.type
class ReplayIntakePayload:
    messages: list[IntakeMessage] = strawberry.field(
        description="The payloads put back in line (the retry job attempts them next)."
    )
    user_errors: list[IntakeError]


async def replay_intake(info: Info[Context, Any], input: ReplayIntakeInput) -> ReplayIntakePayload:
    actor = await require_ops(info)
    filter, limit = input.filter, input.limit
    flt = admin.ReplayFilter(
        channel=filter.channel,
        statuses=tuple(s.value for s in filter.statuses),
        error_code=filter.error_code,
        since=filter.received_since,
        until=filter.received_before,
    )
    result = await admin.replay(info.context.services, actor, flt, limit)
    if result.value is None:
        return ReplayIntakePayload(
            messages=[], user_errors=user_errors(IntakeError, input_errors(result.errors))
        )
    return ReplayIntakePayload(
        messages=[IntakeMessage.from_row(r) for r in result.value], user_errors=[]
    )


FIELD = strawberry.mutation(
    resolver=replay_intake,
    description="Put every failed intake payload matching the filter (most impact first, at "
    "most `limit`, up to 1000) back in line with a fresh count of attempts: after an outage "
    "the DEAD ones, after a SKU map fix a channel's INVALID ones. The RETRY_INTAKE job "
    "attempts them on its next round.",
)
