"""Compiled execution of trusted documents whose result types are plain data.

graphql-core spends most of a small query's CPU walking the document and scheduling a resolver
per field. A trusted document (``graphql_schema/documents/``) is known at start-up, so when its
operation is a query whose root fields have a registered resolver and whose selected types are
plain Strawberry types (no field resolvers below the root, no fragments, no directives), the
selection is compiled once into a plan. A request then coerces its variables with graphql-core,
calls the root resolver and serialises the result along the plan with the schema's own leaf
serialisers. Anything unexpected (bad variables, a null where the schema says non-null, an
exception) falls back to the normal executor, which produces the regular errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values

from graphql_schema.context import Context

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


def _compile_selection(parent: GraphQLObjectType, node: FieldNode) -> _Plan:
    if node.directives:
        raise _Fallback("directives")
    key = node.alias.value if node.alias else node.name.value
    if node.name.value == "__typename":
        return _Plan(key, None, parent, None)
    field = parent.fields[node.name.value]
    definition = field.extensions.get(BACKREF)
    if definition is None or definition.base_resolver is not None or node.arguments:
        raise _Fallback(f"{parent.name}.{node.name.value} is not a plain field")
    named = _named(field.type)
    children = None
    if isinstance(named, GraphQLObjectType):
        if node.selection_set is None:
            raise _Fallback("object without selection")
        children = tuple(_compile_children(named, node))
    return _Plan(key, definition.python_name, field.type, children)


def _compile_children(type_: GraphQLObjectType, node: FieldNode) -> list[_Plan]:
    assert node.selection_set is not None
    plans = []
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode):
            raise _Fallback("fragments are not compiled")
        plans.append(_compile_selection(type_, selection))
    return plans


def _complete(value: Any, type_: GraphQLOutputType, plan: _Plan) -> Any:
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            raise _Fallback("null in a non-null position")
        return _complete(value, type_.of_type, plan)
    if value is None:
        return None
    if isinstance(type_, GraphQLList):
        return [_complete(item, type_.of_type, plan) for item in value]
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return type_.serialize(value)
    if not isinstance(type_, GraphQLObjectType) or plan.children is None:
        raise _Fallback(f"unexpected type {type_}")
    out: dict[str, Any] = {}
    for child in plan.children:
        if child.python_name is None:
            out[child.key] = type_.name
        else:
            out[child.key] = _complete(getattr(value, child.python_name), child.type, child)
    return out


class CompiledOperation:
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
) -> dict[str, CompiledOperation]:
    """Compiled plans by document text, for the documents that qualify."""
    compiled: dict[str, CompiledOperation] = {}
    for text in texts:
        document = parse(text)
        if validate(schema, document):
            raise ValueError(f"trusted document does not validate:\n{text}")
        try:
            compiled[text] = CompiledOperation(schema, document, roots)
        except _Fallback:
            continue
    return compiled
