"""configureIntakeChannel: which adapter reads a channel's webhooks, and its rules (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.intake import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import IntakeError, input_errors, user_errors
from graphql_schema.intake.types import IntakeChannel, IntakeRulesInput


@strawberry.type
class ConfigureIntakeChannelPayload:
    channel: IntakeChannel | None
    user_errors: list[IntakeError]


async def channel_answer(
    info: Info[Context, Any], result: Any
) -> tuple[IntakeChannel | None, list[IntakeError]]:
    if result.value is None:
        return None, user_errors(IntakeError, input_errors(result.errors))
    rows = await admin.channels(info.context.services)
    row = next((r for r in rows if r["channel_code"] == result.value), None)
    return (IntakeChannel.from_row(row) if row else None), []


@strawberry.input
class ConfigureIntakeChannelInput:
    channel: str
    adapter: str = strawberry.field(description="NATIVE, MARKETPLACE or TILL.")
    rules: IntakeRulesInput | None = None


async def configure_intake_channel(
    info: Info[Context, Any], input: ConfigureIntakeChannelInput
) -> ConfigureIntakeChannelPayload:
    actor = await require_ops(info)
    rules = input.rules.as_json() if input.rules else {}
    result = await admin.configure_channel(
        info.context.services, actor, input.channel, input.adapter, rules
    )
    channel, errors = await channel_answer(info, result)
    return ConfigureIntakeChannelPayload(channel=channel, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=configure_intake_channel,
    description="Open (or change) a channel's intake: the adapter that reads its payloads "
    "and its rules (replacing the previous ones). Its signing secrets are settings "
    "(OMS_INTAKE_SECRETS), never data.",
)
