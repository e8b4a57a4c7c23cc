"""Line ids of a fulfilment input."""

from __future__ import annotations

import strawberry

from graphql_schema.orders.mutations.changed import line_key


def line_keys(values: list[strawberry.ID] | None) -> list[int] | None:
    return None if values is None else [line_key(v) for v in values]
