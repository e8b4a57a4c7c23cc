"""Fulfilment mutations: dispatch and delivery."""

from __future__ import annotations

import strawberry

from graphql_schema.fulfilment.mutations import delivery_confirm, order_lines_dispatch


@strawberry.type
class FulfilmentMutations:
    dispatch_order_lines = order_lines_dispatch.FIELD
    confirm_delivery = delivery_confirm.FIELD
