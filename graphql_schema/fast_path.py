"""Compiled execution of trusted documents whose result types are plain data.

graphql-core spends most of a small query's CPU walking the document and scheduling a resolver
per field. A trusted document (``graphql_schema/documents/``) is known at start-up, so when its
operation is a query whose root fields have a registered resolver and whose selected types are
plain Strawberry types (no field resolvers below the root, no fragments, no directives), the
selection is compiled once into a plan. A request then coerces its variables with graphql-core,
calls the root resolver and serialises the result along the plan with the schema's own leaf
serialisers. Anything unexpected (bad variables, a null where the schema says non-null, an
exception) falls back to the normal executor, which produces the regular errors.

One mutation is compiled too: a trusted ``placeOrder`` document (``CompiledPlaceOrder``). Its
variables are coerced by hand from the JSON (anything but the plain well-formed shape falls back
before anything runs), the caller is authenticated as the resolver would, the placement service
is called and the answer is serialised from the rows placement wrote. What cannot be answered
that way once the order is placed (an exception) is handed to the normal executor together with
the outcome (``PLACEMENT_OUTCOME``), so that it answers exactly as if it had placed the order.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values

from app.services import auth
from app.services import orders as order_service
from app.services.orders import CachedCredential, CredentialChanged, LineInput
from app.services.results import Actor
from graphql_schema.context import Context
from graphql_schema.orders.mutations import (
    PLACEMENT_OUTCOME,
    may_place_orders,
    placement_command,
    placement_payload,
)
from graphql_schema.orders.types import OrderLine

BACKREF = "strawberry-definition"

RootResolver = Callable[..., Awaitable[Any]]


class _Fallback(Exception):
    """The compiled plan cannot answer this request; the normal executor will."""


@dataclass(frozen=True)
class _Plan:
    key: str
    python_name: str | None  # None for __typename
    type: GraphQLOutputType
    children: tuple[_Plan, ...] | None
    special: str | None = None  # a resolver field whose value the caller fetched beforehand


@dataclass(frozen=True)
class Handoff:
    """Let the normal executor answer, with ``value`` set in ``var`` while it runs."""

    var: ContextVar[Any]
    value: Any


@dataclass(frozen=True)
class _Root:
    key: str
    node: FieldNode
    field: GraphQLField
    arg_names: dict[str, str]  # GraphQL argument name -> Python parameter name
    resolver: RootResolver
    plan: _Plan


def _named(type_: GraphQLOutputType) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _compile_selection(
    parent: GraphQLObjectType, node: FieldNode, specials: frozenset[str] = frozenset()
) -> _Plan:
    if node.directives:
        raise _Fallback("directives")
    key = node.alias.value if node.alias else node.name.value
    if node.name.value == "__typename":
        return _Plan(key, None, parent, None)
    field = parent.fields[node.name.value]
    definition = field.extensions.get(BACKREF)
    special: str | None = f"{parent.name}.{node.name.value}"
    if special not in specials:
        special = None
        if definition is None or definition.base_resolver is not None:
            raise _Fallback(f"{parent.name}.{node.name.value} is not a plain field")
    if node.arguments or definition is None:
        raise _Fallback(f"{parent.name}.{node.name.value} takes arguments")
    named = _named(field.type)
    children = None
    if isinstance(named, GraphQLObjectType):
        if node.selection_set is None:
            raise _Fallback("object without selection")
        children = tuple(_compile_children(named, node, specials))
    return _Plan(key, definition.python_name, field.type, children, special)


def _compile_children(
    type_: GraphQLObjectType, node: FieldNode, specials: frozenset[str] = frozenset()
) -> list[_Plan]:
    assert node.selection_set is not None
    plans = []
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode):
            raise _Fallback("fragments are not compiled")
        plans.append(_compile_selection(type_, selection, specials))
    return plans


def _selects(plan: _Plan, special: str) -> bool:
    return plan.special == special or any(_selects(c, special) for c in plan.children or ())


def _complete(
    value: Any, type_: GraphQLOutputType, plan: _Plan, fetched: dict[str, Any] | None = None
) -> Any:
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            raise _Fallback("null in a non-null position")
        return _complete(value, type_.of_type, plan, fetched)
    if value is None:
        return None
    if isinstance(type_, GraphQLList):
        return [_complete(item, type_.of_type, plan, fetched) for item in value]
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return type_.serialize(value)
    if not isinstance(type_, GraphQLObjectType) or plan.children is None:
        raise _Fallback(f"unexpected type {type_}")
    out: dict[str, Any] = {}
    for child in plan.children:
        if child.python_name is None:
            out[child.key] = type_.name
        elif child.special is not None:
            if fetched is None or child.special not in fetched:
                raise _Fallback(f"{child.special} was not fetched")
            out[child.key] = _complete(fetched[child.special], child.type, child, fetched)
        else:
            out[child.key] = _complete(
                getattr(value, child.python_name), child.type, child, fetched
            )
    return out


class CompiledOperation:
    kind = "query"

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        roots: dict[str, RootResolver],
    ) -> None:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or len(document.definitions) != 1:
            raise _Fallback("one operation, no fragments")
        operation = operations[0]
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise _Fallback("queries only")
        self.schema = schema
        self.operation = operation
        self.name = operation.name.value if operation.name else None
        query_type = schema.query_type
        if query_type is None:
            raise _Fallback("no query type")
        self.roots: list[_Root] = []
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                raise _Fallback("plain root fields only")
            name = selection.name.value
            if name not in roots:
                raise _Fallback(f"no compiled resolver for {name}")
            field = query_type.fields[name]
            named = _named(field.type)
            if not isinstance(named, GraphQLObjectType):
                raise _Fallback("object roots only")
            arg_names = {
                arg_name: arg.extensions[BACKREF].python_name
                for arg_name, arg in field.args.items()
            }
            plan = _Plan(
                selection.alias.value if selection.alias else name,
                None,
                field.type,
                tuple(_compile_children(named, selection)),
            )
            self.roots.append(_Root(plan.key, selection, field, arg_names, roots[name], plan))

    async def execute(self, context: Context, variables: dict[str, Any] | None) -> Any:
        """The response body, or None to let the normal executor answer."""
        coerced = get_variable_values(
            self.schema, self.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):  # variable errors: the executor reports them
            return None
        data: dict[str, Any] = {}
        try:
            for root in self.roots:
                args = get_argument_values(root.field, root.node, coerced)
                value = await root.resolver(
                    context, **{root.arg_names[k]: v for k, v in args.items()}
                )
                data[root.key] = _complete(value, root.field.type, root.plan)
        except _Fallback:
            return None
        return {"data": data}


def compile_documents(
    schema: GraphQLSchema, texts: list[str], roots: dict[str, RootResolver]
) -> dict[str, CompiledOperation | CompiledPlaceOrder]:
    """Compiled plans by document text, for the documents that qualify: queries over
    ``roots``, and the ``placeOrder`` mutation."""
    compiled: dict[str, CompiledOperation | CompiledPlaceOrder] = {}
    for text in texts:
        document = parse(text)
        if validate(schema, document):
            raise ValueError(f"trusted document does not validate:\n{text}")
        try:
            operation = document.definitions[0]
            if (
                len(document.definitions) == 1
                and isinstance(operation, OperationDefinitionNode)
                and operation.operation is OperationType.MUTATION
            ):
                compiled[text] = CompiledPlaceOrder(schema, operation)
            else:
                compiled[text] = CompiledOperation(schema, document, roots)
        except _Fallback:
            continue
    return compiled


# ---------------------------------------------------------------- placeOrder

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
        raise _Fallback("not a string")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Fallback("not a boolean")
    return value


def _int(value: Any) -> int:
    if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
        raise _Fallback("not a 32-bit integer")
    return value


def _object(value: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or not keys.issuperset(value):
        raise _Fallback("not an object of known fields")
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list:  # GraphQL would wrap a single value: the executor does that
        raise _Fallback("not a list")
    return value


def coerce_place_order_input(raw: Any) -> order_service.PlaceOrderInput:
    """The service command for a ``PlaceOrderInput`` variable given as plain JSON: the same as
    graphql-core's coercion and the resolver make of it, or ``_Fallback`` for anything that
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
            raise _Fallback(f"no input type {name}")
        found = {key: (str(f.type), f.default_value) for key, f in type_.fields.items()}
        if found != fields:
            raise _Fallback(f"{name} is not the shape the compiled placeOrder knows")


def _api_key(context: Context) -> str | None:
    """The caller's key, read as ``graphql_schema.auth`` reads it."""
    headers = getattr(context.request, "headers", None)
    if headers is None:
        return None
    value = headers.get("authorization")
    if value and value.lower().startswith("bearer "):
        return str(value[7:].strip())
    key = headers.get("x-api-key")
    return str(key) if key else None


LINES = "Order.lines"


class CredentialCache:
    """API keys authenticated recently, so that a placement does not read the key first: the
    placement's first statement reads the key row again and checks it (``CachedCredential``),
    so a revoked or changed key is refused exactly as before. Bounded; entries expire."""

    def __init__(self, seconds: float = 60.0, size: int = 1000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, tuple[float, CachedCredential]] = {}

    def get(self, key: str) -> CachedCredential | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, actor: Actor) -> None:
        parts = key.split("_", 2)
        if len(parts) != 3:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        secret_hash = hashlib.sha256(parts[2].encode()).hexdigest()
        credential = CachedCredential(parts[1], secret_hash, actor)
        self._entries[key] = (time.monotonic() + self.seconds, credential)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)


class CompiledPlaceOrder:
    """``mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { ... } }`` over
    plain payload fields, plain order fields and ``order.lines`` (plain line fields)."""

    kind = "mutation"

    def __init__(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> None:
        mutation_type = schema.mutation_type
        if mutation_type is None or operation.directives:
            raise _Fallback("no mutation type")
        definitions = operation.variable_definitions or ()
        selections = operation.selection_set.selections
        if len(definitions) != 1 or len(selections) != 1:
            raise _Fallback("one variable, one root field")
        definition = definitions[0]
        if (
            definition.default_value is not None
            or definition.directives
            or not isinstance(definition.type, NonNullTypeNode)
            or getattr(definition.type.type, "name", None) is None
            or definition.type.type.name.value != "PlaceOrderInput"  # type: ignore[union-attr]
        ):
            raise _Fallback("the variable must be PlaceOrderInput!")
        root = selections[0]
        if not isinstance(root, FieldNode) or root.name.value != "placeOrder" or root.directives:
            raise _Fallback("placeOrder only")
        arguments = root.arguments or ()
        if (
            len(arguments) != 1
            or arguments[0].name.value != "input"
            or not isinstance(arguments[0].value, VariableNode)
            or arguments[0].value.name.value != definition.variable.name.value
        ):
            raise _Fallback("placeOrder(input: $variable) only")
        _check_input_types(schema)
        field = mutation_type.fields["placeOrder"]
        payload = _named(field.type)
        if not isinstance(payload, GraphQLObjectType):
            raise _Fallback("object payload only")
        self.schema = schema
        self.name = operation.name.value if operation.name else None
        self.variable = definition.variable.name.value
        self.field = field
        self.plan = _Plan(
            root.alias.value if root.alias else root.name.value,
            None,
            field.type,
            tuple(_compile_children(payload, root, frozenset({LINES}))),
        )
        self.selects_lines = _selects(self.plan, LINES)
        self.credentials = CredentialCache()

    async def execute(self, context: Context, variables: dict[str, Any] | None) -> Any:
        """The response body; None for the executor to answer from scratch (nothing was
        done yet); or a ``Handoff`` of the placement's outcome for the executor to answer."""
        try:
            command = coerce_place_order_input((variables or {}).get(self.variable))
        except _Fallback:
            return None
        key = _api_key(context)
        if not key:
            return None
        credential = self.credentials.get(key)
        try:
            if credential is not None:
                try:
                    result = await order_service.place_order(
                        context.services, credential.actor, command, credential=credential
                    )
                except CredentialChanged:
                    self.credentials.drop(key)
                    credential = None
            if credential is None:
                actor = await auth.authenticate(context.services, key)
                if actor is None or not may_place_orders(actor):
                    return None  # the executor raises the same authentication or scope error
                self.credentials.put(key, actor)
                result = await order_service.place_order(context.services, actor, command)
        except Exception as exc:
            return Handoff(PLACEMENT_OUTCOME, exc)
        try:
            payload = await placement_payload(context, result)
            fetched: dict[str, Any] = {}
            order = payload.order
            if order is not None and self.selects_lines:
                rows = await context.loaders.lines_by_order.load(order._db_id)
                fetched[LINES] = [OrderLine.from_row(r, order._currency) for r in rows]
            data = {self.plan.key: _complete(payload, self.field.type, self.plan, fetched)}
        except Exception:
            return Handoff(PLACEMENT_OUTCOME, result)
        return {"data": data}
