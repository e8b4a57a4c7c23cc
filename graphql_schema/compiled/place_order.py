"""The compiled trusted ``placeOrder`` mutation.

Its variables are coerced by hand from the JSON (anything but the plain well-formed shape falls
back before anything runs), the caller is authenticated as the resolver would (a recent
authentication is cached and re-checked in the placement's first statement), the placement
service is called and the answer is serialised from the rows placement wrote. What cannot be
answered that way once the order is placed (an exception) is handed to the normal executor
together with the outcome (``PLACEMENT_OUTCOME``), so that it answers exactly as if it had
placed the order.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    NonNullTypeNode,
    OperationDefinitionNode,
    Undefined,
    VariableNode,
)

from app.services import policy
from app.services.auth import (
    CredentialCache,
    CredentialChanged,
    authenticate,
    key_from_headers,
)
from app.services.orders.placement import LineInput, PlaceOrderInput, place_order
from app.storage.database import is_unavailable
from graphql_schema.compiled.common import (
    Fallback,
    FallbackLog,
    Handoff,
    Plan,
    compile_children,
    complete,
    named_type,
    selects,
)
from graphql_schema.context import Context
from graphql_schema.errors import ServiceUnavailable
from graphql_schema.orders.mutations.order_place import (
    PLACEMENT_OUTCOME,
    placement_command,
    placement_payload,
)
from graphql_schema.orders.types import OrderLine

# The input types the hand coercion below knows: field -> (type, default). A schema change
# that does not match stops the document from being compiled (the executor answers).
_PLACE_ORDER_INPUTS: dict[str, dict[str, tuple[str, Any]]] = {
    "PlaceOrderInput": {
        "idempotencyKey": ("String!", Undefined),
        "channel": ("String!", Undefined),
        "customer": ("CustomerInput!", Undefined),
        "shippingAddress": ("ShippingAddressInput", None),
        "lines": ("[OrderLineInput!]!", Undefined),
        "shipTogether": ("Boolean!", False),
    },
    "CustomerInput": {"email": ("String!", Undefined), "name": ("String!", Undefined)},
    "ShippingAddressInput": {
        "region": ("String", None),
        "postalCode": ("String", None),
        "lines": ("[String!]!", []),
        "city": ("String", None),
        "country": ("String", None),
        "carrierService": ("String", None),
    },
    "OrderLineInput": {
        "sku": ("String!", Undefined),
        "quantity": ("Int!", Undefined),
        "acceptBackorder": ("Boolean!", True),
        "acceptPreorder": ("Boolean!", True),
    },
}
_INPUT_KEYS = frozenset(_PLACE_ORDER_INPUTS["PlaceOrderInput"])
_CUSTOMER_KEYS = frozenset(_PLACE_ORDER_INPUTS["CustomerInput"])
_ADDRESS_KEYS = frozenset(_PLACE_ORDER_INPUTS["ShippingAddressInput"])
_LINE_KEYS = frozenset(_PLACE_ORDER_INPUTS["OrderLineInput"])
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _str(value: Any) -> str:
    if type(value) is not str:
        raise Fallback("not a string")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise Fallback("not a boolean")
    return value


def _int(value: Any) -> int:
    if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
        raise Fallback("not a 32-bit integer")
    return value


def _object(value: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or not keys.issuperset(value):
        raise Fallback("not an object of known fields")
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list:  # GraphQL would wrap a single value: the executor does that
        raise Fallback("not a list")
    return value


def coerce_place_order_input(raw: Any) -> PlaceOrderInput:
    """The service command for a ``PlaceOrderInput`` variable given as plain JSON: the same as
    graphql-core's coercion and the resolver make of it, or ``Fallback`` for anything that
    is not the plain, well-formed shape (the executor then answers, errors included)."""
    data = _object(raw, _INPUT_KEYS)
    customer = _object(data.get("customer"), _CUSTOMER_KEYS)
    given = data.get("shippingAddress")
    address = {} if given is None else _object(given, _ADDRESS_KEYS)
    lines = []
    for item in _list(data.get("lines")):
        line = _object(item, _LINE_KEYS)
        lines.append(
            LineInput(
                _str(line.get("sku")),
                _int(line.get("quantity")),
                _bool(line.get("acceptBackorder", True)),
                _bool(line.get("acceptPreorder", True)),
            )
        )
    return placement_command(
        idempotency_key=_str(data.get("idempotencyKey")),
        channel=_str(data.get("channel")),
        email=_str(customer.get("email")),
        name=_str(customer.get("name")),
        lines=lines,
        region=_opt_str(address.get("region")),
        postal_code=_opt_str(address.get("postalCode")),
        address_lines=[_str(x) for x in _list(address.get("lines", []))],
        city=_opt_str(address.get("city")),
        country=_opt_str(address.get("country")),
        ship_together=_bool(data.get("shipTogether", False)),
        carrier_service=_opt_str(address.get("carrierService")),
    )


def _check_input_types(schema: GraphQLSchema) -> None:
    for name, fields in _PLACE_ORDER_INPUTS.items():
        type_ = schema.type_map.get(name)
        if not isinstance(type_, GraphQLInputObjectType):
            raise Fallback(f"no input type {name}")
        found = {key: (str(f.type), f.default_value) for key, f in type_.fields.items()}
        if found != fields:
            raise Fallback(f"{name} is not the shape the compiled placeOrder knows")


LINES = "Order.lines"


class CompiledPlaceOrder:
    """``mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { ... } }`` over
    plain payload fields, plain order fields and ``order.lines`` (plain line fields)."""

    kind = "mutation"

    def __init__(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> None:
        mutation_type = schema.mutation_type
        if mutation_type is None or operation.directives:
            raise Fallback("no mutation type")
        definitions = operation.variable_definitions or ()
        selections = operation.selection_set.selections
        if len(definitions) != 1 or len(selections) != 1:
            raise Fallback("one variable, one root field")
        definition = definitions[0]
        if (
            definition.default_value is not None
            or definition.directives
            or not isinstance(definition.type, NonNullTypeNode)
            or getattr(definition.type.type, "name", None) is None
            or definition.type.type.name.value != "PlaceOrderInput"  # type: ignore[union-attr]
        ):
            raise Fallback("the variable must be PlaceOrderInput!")
        root = selections[0]
        if not isinstance(root, FieldNode) or root.name.value != "placeOrder" or root.directives:
            raise Fallback("placeOrder only")
        arguments = root.arguments or ()
        if (
            len(arguments) != 1
            or arguments[0].name.value != "input"
            or not isinstance(arguments[0].value, VariableNode)
            or arguments[0].value.name.value != definition.variable.name.value
        ):
            raise Fallback("placeOrder(input: $variable) only")
        _check_input_types(schema)
        field = mutation_type.fields["placeOrder"]
        payload = named_type(field.type)
        if not isinstance(payload, GraphQLObjectType):
            raise Fallback("object payload only")
        self.schema = schema
        self.name = operation.name.value if operation.name else None
        self.variable = definition.variable.name.value
        self.field = field
        self.plan = Plan(
            root.alias.value if root.alias else root.name.value,
            None,
            field.type,
            tuple(compile_children(payload, root, frozenset({LINES}))),
        )
        self.selects_lines = selects(self.plan, LINES)
        self.credentials = CredentialCache()
        self.fallback = FallbackLog(self.name)

    async def execute(self, context: Context, variables: dict[str, Any] | None) -> Any:
        """The response body; None for the executor to answer from scratch (nothing was
        done yet); or a ``Handoff`` of the placement's outcome for the executor to answer."""
        try:
            command = coerce_place_order_input((variables or {}).get(self.variable))
        except Fallback as exc:
            self.fallback("variables", str(exc))
            return None
        key = key_from_headers(getattr(context.request, "headers", None))
        if not key:
            self.fallback("auth", "no API key")
            return None
        credential = self.credentials.get(key)
        try:
            if credential is not None:
                try:
                    result = await place_order(
                        context.services, credential.actor, command, credential=credential
                    )
                except CredentialChanged:
                    self.credentials.drop(key)
                    credential = None
            if credential is None:
                actor = await authenticate(context.services, key)
                if actor is None or not policy.may_place_orders(actor):
                    # the executor raises the same authentication or scope error
                    self.fallback("auth", "key refused")
                    return None
                self.credentials.put(key, actor)
                result = await place_order(context.services, actor, command)
        except Exception as exc:
            if is_unavailable(exc):
                # nothing was placed (or, lost at COMMIT, a retry with the key answers it)
                raise ServiceUnavailable() from exc
            self.fallback("handoff", type(exc).__name__)
            return Handoff(PLACEMENT_OUTCOME, exc)
        try:
            payload = await placement_payload(context, result)
            fetched: dict[str, Any] = {}
            order = payload.order
            if order is not None and self.selects_lines:
                rows = await context.loaders.lines_by_order.load(order._db_id)
                fetched[LINES] = [OrderLine.from_row(r, order._currency) for r in rows]
            data = {self.plan.key: complete(payload, self.field.type, self.plan, fetched)}
        except Exception as exc:
            self.fallback("handoff", type(exc).__name__)
            return Handoff(PLACEMENT_OUTCOME, result)
        return {"data": data}
