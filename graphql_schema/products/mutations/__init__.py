"""Catalog mutations (ops): products, their selling policies and the sales channels' unit
limits; one module per mutation, with its input and payload."""

from __future__ import annotations

import strawberry

from graphql_schema.products.mutations import (
    backorder_configure,
    channel_limits_set,
    preorder_configure,
    product_create,
)


@strawberry.type
class ProductMutations:
    create_product = product_create.FIELD
    configure_preorder = preorder_configure.FIELD
    configure_backorder = backorder_configure.FIELD
    set_channel_limits = channel_limits_set.FIELD
