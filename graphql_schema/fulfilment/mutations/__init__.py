"""Fulfilment mutations: dispatch and delivery."""

from __future__ import annotations

import strawberry

from graphql_schema.fulfilment.mutations import (
    channel_fulfilment_set,
    delivery_confirm,
    order_lines_dispatch,
    shipment_advance,
    shipment_cancel,
    shipment_dispatch,
    shipment_hold,
    shipment_mark_delivered,
    shipment_release,
    shipments_consolidate,
)


@strawberry.type
class FulfilmentMutations:
    dispatch_order_lines = order_lines_dispatch.FIELD
    confirm_delivery = delivery_confirm.FIELD
    set_channel_fulfilment = channel_fulfilment_set.FIELD
    advance_shipment = shipment_advance.FIELD
    hold_shipment = shipment_hold.FIELD
    release_shipment = shipment_release.FIELD
    dispatch_shipment = shipment_dispatch.FIELD
    mark_shipment_delivered = shipment_mark_delivered.FIELD
    cancel_shipment = shipment_cancel.FIELD
    consolidate_shipments = shipments_consolidate.FIELD
