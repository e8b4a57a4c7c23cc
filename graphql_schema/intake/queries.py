"""Ops views of the channel intake: failed payloads ranked by impact, one payload, each
channel's configuration and health."""

from __future__ import annotations

import math
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.domain.intake import IntakeStatus
from app.services import policy
from app.services.intake import admin
from graphql_schema.auth import require
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.intake.types import (
    IntakeChannel,
    IntakeHealth,
    IntakeMessage,
    intake_message_id,
)
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_cursor,
    make_connection,
)

OPS_ONLY = "The channel intake needs the 'ops' scope."
MAX_HOURS = 24 * 90


@strawberry.enum(description="How failed payloads are ordered.")
class IntakeFailureOrder(Enum):
    IMPACT = "IMPACT"
    NEWEST = "NEWEST"


def _after(cursor: str | None) -> tuple[float, int] | None:
    value = decode_cursor("intake", cursor)
    if value is None:
        return None
    score, _, ident = value.partition("|")
    try:
        parsed = (float(score), int(ident))
    except ValueError:
        raise PublicError("Invalid cursor.", "INVALID_CURSOR") from None
    if not math.isfinite(parsed[0]) or not 0 < parsed[1] < 2**63:
        raise PublicError("Invalid cursor.", "INVALID_CURSOR")
    return parsed


@strawberry.type
class IntakeQueries:
    @strawberry.field(
        description="Failed intake payloads (INVALID and DEAD unless `status` says), the most "
        "impact first (order value, units, SLA deadline): what ops fix first (ops)."
    )
    async def intake_failures(
        self,
        info: Info[Context, Any],
        channel: str | None = None,
        status: list[IntakeStatus] | None = None,
        order_by: IntakeFailureOrder = IntakeFailureOrder.IMPACT,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[IntakeMessage]:
        await require(info, policy.is_ops, OPS_ONLY)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        cursor = _after(after)
        statuses = [s.value for s in status] if status else None
        by_impact = order_by is IntakeFailureOrder.IMPACT
        rows = await admin.failures(services, channel, statuses, by_impact, cursor, size + 1)

        async def count() -> int:
            return await admin.count_failures(services, channel, statuses)

        return make_connection(
            [IntakeMessage.from_row(r) for r in rows],
            size,
            key=lambda m: f"{m.impact_score if by_impact else 0}|{m._db_id}",
            kind="intake",
            has_previous=cursor is not None,
            count=count,
        )

    @strawberry.field(description="One intake payload by id (ops); null when there is none.")
    async def intake_message(
        self, info: Info[Context, Any], id: strawberry.ID
    ) -> IntakeMessage | None:
        await require(info, policy.is_ops, OPS_ONLY)
        number = intake_message_id(id)
        if number is None:
            return None
        row = (await admin.by_ids(info.context.services, [number])).get(number)
        return IntakeMessage.from_row(row) if row else None

    @strawberry.field(description="Channels with an intake, their adapters and rules (ops).")
    async def intake_channels(self, info: Info[Context, Any]) -> list[IntakeChannel]:
        await require(info, policy.is_ops, OPS_ONLY)
        return [IntakeChannel.from_row(r) for r in await admin.channels(info.context.services)]

    @strawberry.field(
        description="Per channel: payloads received in the last `hours` and what became of "
        "them, and the time from arrival to answer (ops). Also in /metrics "
        "(oms_intake_messages_total, oms_intake_seconds)."
    )
    async def intake_health(self, info: Info[Context, Any], hours: int = 24) -> list[IntakeHealth]:
        await require(info, policy.is_ops, OPS_ONLY)
        if not 1 <= hours <= MAX_HOURS:
            raise PublicError(f"`hours` must be between 1 and {MAX_HOURS}.", "INVALID", ["hours"])
        return [IntakeHealth.from_row(r) for r in await admin.health(info.context.services, hours)]
