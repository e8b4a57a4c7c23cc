"""setIntakeAccountRules: one account's rules over its channel's (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.intake import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import IntakeError
from graphql_schema.intake.mutations.intake_channel_configure import channel_answer
from graphql_schema.intake.types import IntakeChannel, IntakeRulesInput


@strawberry.type
class SetIntakeAccountRulesPayload:
    channel: IntakeChannel | None
    user_errors: list[IntakeError]


@strawberry.input
class SetIntakeAccountRulesInput:
    channel: str
    account: str = strawberry.field(description="The channel's account: a shop, a B2B buyer.")
    rules: IntakeRulesInput | None = strawberry.field(
        default=None, description="null removes the account's own rules."
    )


async def set_intake_account_rules(
    info: Info[Context, Any], input: SetIntakeAccountRulesInput
) -> SetIntakeAccountRulesPayload:
    actor = await require_ops(info)
    rules = input.rules.as_json() if input.rules is not None else None
    result = await admin.set_account_rules(
        info.context.services, actor, input.channel, input.account, rules
    )
    channel, errors = await channel_answer(info, result)
    return SetIntakeAccountRulesPayload(channel=channel, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=set_intake_account_rules,
    description="Rules of one account on a channel, overriding the channel's rule by rule "
    "(a B2B buyer free of per-customer limits, a shop whose walk-in sales use its own "
    "contact).",
)
