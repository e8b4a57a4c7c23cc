"""Stock and pool mutations (ops): one module per mutation, with its input and payload."""

from __future__ import annotations

import strawberry

from graphql_schema.inventory.mutations import (
    channel_pool_allocate,
    safety_stock_set,
    stock_adjust,
    stock_set,
)


@strawberry.type
class InventoryMutations:
    set_stock = stock_set.FIELD
    adjust_stock = stock_adjust.FIELD
    set_safety_stock = safety_stock_set.FIELD
    allocate_channel_pool = channel_pool_allocate.FIELD
