"""Order mutations: placeOrder (every channel's intake), cancelOrder, cancelOrderLine, tagOrder."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import policy
from app.services.error_codes import OrderErrorCode
from app.services.orders import admin, cancellation, payments
from app.services.orders.placement import LineInput, Placed, place_order
from app.services.orders.placement import PlaceOrderInput as PlaceOrderCommand
from app.services.results import Result, ServiceError
from graphql_schema.auth import require, require_ops, require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import PublicError, UserError
from graphql_schema.inventory.types import to_user_errors
from graphql_schema.orders.queries import order_uuid
from graphql_schema.orders.types import Order, OrderPayload, PlaceOrderPayload
from graphql_schema.relay import parse_global_id


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


async def require_placer(info: Info[Context, Any]) -> Any:
    return await require(info, policy.may_place_orders, "This key may not place orders.")


# The compiled trusted placeOrder (graphql_schema/fast_path.py) runs the placement itself;
# when it cannot answer what came out (an exception), it hands that outcome to the normal
# executor through this variable, and the resolver answers from it instead of placing again.
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
            user_errors=to_user_errors(result.errors),
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


async def _order_payload(info: Info[Context, Any], order_id: Any) -> Order | None:
    info.context.loaders.orders_changed()
    row = await info.context.loaders.order_by_id.load(order_id)
    return Order.from_row(row) if row else None


@strawberry.input
class CancelOrderInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.input
class CancelOrderLineInput:
    order_id: strawberry.ID
    line_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class TagOrderInput:
    id: strawberry.ID
    add: list[str] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        description="Place an order from any channel: classified, reserved, paid per state."
    )
    async def place_order(
        self, info: Info[Context, Any], input: PlaceOrderInput
    ) -> PlaceOrderPayload:
        outcome = PLACEMENT_OUTCOME.get()
        if outcome is not None:  # placed already by the compiled path: answer from that
            PLACEMENT_OUTCOME.set(None)
            if isinstance(outcome, BaseException):
                raise outcome
            return await placement_payload(info.context, outcome)
        actor = await require_placer(info)
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

    @strawberry.mutation(description="Cancel every open line; refunds or voids in the ledger.")
    async def cancel_order(self, info: Info[Context, Any], input: CancelOrderInput) -> OrderPayload:
        actor = await require_order_manager(info)
        order_id = order_uuid(input.id)
        if order_id is None:
            return _no_order("id")
        result = await cancellation.cancel(
            info.context.services, actor, order_id, None, input.reason
        )
        return await _changed(info, result, order_id)

    @strawberry.mutation(description="Cancel one line (or sub-line) of an order.")
    async def cancel_order_line(
        self, info: Info[Context, Any], input: CancelOrderLineInput
    ) -> OrderPayload:
        actor = await require_order_manager(info)
        order_id = order_uuid(input.order_id)
        try:
            line_id = int(parse_global_id("OrderLine", input.line_id))
        except (ValueError, PublicError):
            line_id = -1
        if not 0 < line_id < 2**63:
            line_id = -1  # no such line: NOT_FOUND below, never a database range error
        if order_id is None:
            return _no_order("orderId")
        result = await cancellation.cancel(
            info.context.services, actor, order_id, line_id, input.reason
        )
        return await _changed(info, result, order_id)

    @strawberry.mutation(
        description="Add or remove tags by hand (PRIORITY, LIMITED_RUN, own tags)."
    )
    async def tag_order(self, info: Info[Context, Any], input: TagOrderInput) -> OrderPayload:
        actor = await require_order_manager(info)
        order_id = order_uuid(input.id)
        if order_id is None:
            return _no_order("id")
        result = await admin.tag_order(
            info.context.services, actor, order_id, list(input.add), list(input.remove)
        )
        return await _changed(info, result, order_id)


@strawberry.type
class RenewAuthorizationsPayload:
    renewed: int
    user_errors: list[UserError]


@strawberry.input
class SetCustomerPriorityInput:
    email: str
    priority: bool


@strawberry.type
class CustomerPriorityPayload:
    email: str
    priority: bool | None
    user_errors: list[UserError]


@strawberry.type
class OrderAdminMutations:
    @strawberry.mutation(
        description="Re-authorize waiting lines whose card authorization expires within a day "
        "(the scheduler runs this too); voids the old authorization."
    )
    async def renew_expiring_authorizations(
        self, info: Info[Context, Any], within_hours: int = 24
    ) -> RenewAuthorizationsPayload:
        actor = await require_ops(info)
        if not 0 < within_hours <= 24 * 30:
            return RenewAuthorizationsPayload(
                renewed=0,
                user_errors=to_user_errors(
                    [
                        ServiceError(
                            ("withinHours",), OrderErrorCode.INVALID, "Between 1 and 720 hours."
                        )
                    ]
                ),
            )
        result = await payments.renew_authorizations(
            info.context.services, actor, timedelta(hours=within_hours)
        )
        return RenewAuthorizationsPayload(renewed=result.value or 0, user_errors=[])

    @strawberry.mutation(description="Mark a customer as priority: their orders get PRIORITY.")
    async def set_customer_priority(
        self, info: Info[Context, Any], input: SetCustomerPriorityInput
    ) -> CustomerPriorityPayload:
        actor = await require_ops(info)
        email = input.email.strip().lower()
        result = await admin.set_customer_priority(
            info.context.services, actor, email, input.priority
        )
        return CustomerPriorityPayload(
            email=email,
            priority=result.value,
            user_errors=to_user_errors(_prefix(result.errors)),
        )


def _no_order(field: str) -> OrderPayload:
    return OrderPayload(
        order=None,
        user_errors=to_user_errors(
            [ServiceError(("input", field), OrderErrorCode.NOT_FOUND, "No such order.")]
        ),
    )


async def _changed(info: Info[Context, Any], result: Result[Any], order_id: Any) -> OrderPayload:
    if result.value is None:
        return OrderPayload(order=None, user_errors=to_user_errors(_prefix(result.errors)))
    return OrderPayload(order=await _order_payload(info, order_id), user_errors=[])


def _prefix(errors: list[ServiceError]) -> list[ServiceError]:
    return [
        ServiceError(
            ("input", *e.field) if e.field and e.field[0] != "input" else e.field, e.code, e.message
        )
        for e in errors
    ]
