"""Order mutations: one module per mutation, with its input and payload."""

from __future__ import annotations

import strawberry

from graphql_schema.orders.mutations import (
    authorizations_renew,
    customer_priority_set,
    order_cancel,
    order_line_cancel,
    order_place,
    order_tag,
)


@strawberry.type
class OrderMutations:
    place_order = order_place.FIELD
    cancel_order = order_cancel.FIELD
    cancel_order_line = order_line_cancel.FIELD
    tag_order = order_tag.FIELD
    set_customer_priority = customer_priority_set.FIELD
    renew_expiring_authorizations = authorizations_renew.FIELD
