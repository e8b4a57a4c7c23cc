"""placeOrder: every channel's intake (ops, storefront and channel keys)."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import policy
from app.services.orders.placement import LineInput, Placed, place_order
from app.services.orders.placement import PlaceOrderInput as PlaceOrderCommand
from app.services.results import Result
from graphql_schema.auth import require
from graphql_schema.context import Context
from graphql_schema.errors import PlacementError, user_errors
from graphql_schema.orders.types import Order


@strawberry.input
class CustomerInput:
    email: str
    name: str


@strawberry.input
class ShippingAddressInput:
    region: str | None = None
    postal_code: str | None = None
    lines: list[str] = strawberry.field(default_factory=list)
    city: str | None = None
    country: str | None = None
    carrier_service: str | None = strawberry.field(
        default=None,
        description="A carrier service of the region (e.g. EXPRESS); default: the region's.",
    )


@strawberry.input
class OrderLineInput:
    sku: str
    quantity: int
    accept_backorder: bool = strawberry.field(
        default=True, description="False: refuse the line rather than backorder any of it."
    )
    accept_preorder: bool = strawberry.field(
        default=True, description="False: refuse the line rather than pre-order it."
    )


@strawberry.input
class PlaceOrderInput:
    idempotency_key: str = strawberry.field(
        description="Same key and payload: the original result; another payload: an error."
    )
    channel: str
    customer: CustomerInput
    shipping_address: ShippingAddressInput | None = None
    lines: list[OrderLineInput]
    ship_together: bool = False


@strawberry.type
class PlaceOrderPayload:
    order: Order | None
    order_token: str | None = strawberry.field(
        description="Shown once: lets the customer's storefront read this order."
    )
    replayed: bool = strawberry.field(
        description="True when this is the stored result of an earlier request with the key."
    )
    user_errors: list[PlacementError]


# The compiled trusted placeOrder (graphql_schema/compiled/place_order.py) runs the placement
# itself; when it cannot answer what came out (an exception), it hands that outcome to the
# normal executor through this variable, and the resolver answers from it instead of placing
# again.
PLACEMENT_OUTCOME: ContextVar[Result[Placed] | BaseException | None] = ContextVar(
    "placement_outcome", default=None
)


def placement_command(
    *,
    idempotency_key: str,
    channel: str,
    email: str,
    name: str,
    lines: Sequence[LineInput],
    region: str | None,
    postal_code: str | None,
    address_lines: Sequence[str],
    city: str | None,
    country: str | None,
    ship_together: bool,
    carrier_service: str | None = None,
) -> PlaceOrderCommand:
    """The service's command from the input's values (shared with the compiled path)."""
    return PlaceOrderCommand(
        idempotency_key=idempotency_key,
        channel=channel,
        customer_email=email.strip().lower(),
        customer_name=name.strip(),
        lines=tuple(lines),
        region=region,
        postal_code=postal_code,
        address={"lines": list(address_lines), "city": city, "country": country}
        # only when given: the request hash of a payload without it stays what it was
        | ({"carrierService": carrier_service} if carrier_service is not None else {}),
        ship_together=ship_together,
    )


async def placement_payload(context: Context, result: Result[Placed]) -> PlaceOrderPayload:
    """The payload for a placement's result (shared with the compiled path)."""
    if result.value is None:
        return PlaceOrderPayload(
            order=None,
            order_token=None,
            replayed=result.replayed,
            user_errors=user_errors(PlacementError, result.errors),
        )
    placed = result.value
    order: Order | None
    context.loaders.orders_changed()
    if placed.row is not None:
        context.loaders.order_by_id.prime(placed.order_id, placed.row)
        if placed.lines is not None:
            context.loaders.lines_by_order.prime(placed.order_id, list(placed.lines))
        order = Order.from_row(placed.row)
    else:
        row = await context.loaders.order_by_id.load(placed.order_id)
        order = Order.from_row(row) if row else None
    return PlaceOrderPayload(
        order=order,
        order_token=placed.token,
        replayed=placed.replayed,
        user_errors=[],
    )


async def resolve_place_order(
    info: Info[Context, Any], input: PlaceOrderInput
) -> PlaceOrderPayload:
    outcome = PLACEMENT_OUTCOME.get()
    if outcome is not None:  # placed already by the compiled path: answer from that
        PLACEMENT_OUTCOME.set(None)
        if isinstance(outcome, BaseException):
            raise outcome
        return await placement_payload(info.context, outcome)
    actor = await require(info, policy.may_place_orders, "This key may not place orders.")
    address = input.shipping_address or ShippingAddressInput()
    result = await place_order(
        info.context.services,
        actor,
        placement_command(
            idempotency_key=input.idempotency_key,
            channel=input.channel,
            email=input.customer.email,
            name=input.customer.name,
            lines=[
                LineInput(line.sku, line.quantity, line.accept_backorder, line.accept_preorder)
                for line in input.lines
            ],
            region=address.region,
            postal_code=address.postal_code,
            address_lines=address.lines,
            city=address.city,
            country=address.country,
            ship_together=input.ship_together,
            carrier_service=address.carrier_service,
        ),
    )
    return await placement_payload(info.context, result)


FIELD = strawberry.mutation(
    resolver=resolve_place_order,
    description="Place an order from any channel: classified, reserved, paid per state.",
)
