"""Channel intake mutations (ops): act on failed payloads, configure channels and SKU maps."""

from __future__ import annotations

import strawberry

from graphql_schema.intake.mutations import (
    channel_skus_map,
    intake_account_rules_set,
    intake_channel_configure,
    intake_discard,
    intake_replay,
    intake_retry,
)


@strawberry.type
class IntakeMutations:
    retry_intake = intake_retry.FIELD
    replay_intake = intake_replay.FIELD
    discard_intake = intake_discard.FIELD
    configure_intake_channel = intake_channel_configure.FIELD
    set_intake_account_rules = intake_account_rules_set.FIELD
    map_channel_skus = channel_skus_map.FIELD
