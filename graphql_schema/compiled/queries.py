"""Compiled execution of trusted query documents whose result types are plain data.

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
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import get_argument_values, get_variable_values

from app.storage.database import is_unavailable
from graphql_schema.compiled.common import (
    BACKREF,
    Fallback,
    FallbackLog,
    Plan,
    compile_children,
    complete,
    named_type,
)
from graphql_schema.context import Context
from graphql_schema.errors import PublicError, ServiceUnavailable

RootResolver = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class _Root:
    key: str
    node: FieldNode
    field: GraphQLField
    arg_names: dict[str, str]  # GraphQL argument name -> Python parameter name
    resolver: RootResolver
    plan: Plan


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
            raise Fallback("one operation, no fragments")
        operation = operations[0]
        if operation.operation is not OperationType.QUERY or operation.directives:
            raise Fallback("queries only")
        self.schema = schema
        self.operation = operation
        self.name = operation.name.value if operation.name else None
        query_type = schema.query_type
        if query_type is None:
            raise Fallback("no query type")
        self.fallback = FallbackLog(self.name)
        self.roots: list[_Root] = []
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                raise Fallback("plain root fields only")
            name = selection.name.value
            if name not in roots:
                raise Fallback(f"no compiled resolver for {name}")
            field = query_type.fields[name]
            named = named_type(field.type)
            if not isinstance(named, GraphQLObjectType):
                raise Fallback("object roots only")
            arg_names = {
                arg_name: arg.extensions[BACKREF].python_name
                for arg_name, arg in field.args.items()
            }
            plan = Plan(
                selection.alias.value if selection.alias else name,
                None,
                field.type,
                tuple(compile_children(named, selection)),
            )
            self.roots.append(_Root(plan.key, selection, field, arg_names, roots[name], plan))

    async def execute(self, context: Context, variables: dict[str, Any] | None) -> Any:
        """The response body, or None to let the normal executor answer."""
        coerced = get_variable_values(
            self.schema, self.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):  # variable errors: the executor reports them
            self.fallback("variables")
            return None
        data: dict[str, Any] = {}
        try:
            for root in self.roots:
                args = get_argument_values(root.field, root.node, coerced)
                value = await root.resolver(
                    context, **{root.arg_names[k]: v for k, v in args.items()}
                )
                data[root.key] = complete(value, root.field.type, root.plan)
        except Fallback as exc:
            self.fallback("plan", str(exc))
            return None
        except PublicError:
            # a bad argument: the executor answers it as the field's error
            self.fallback("argument")
            return None
        except Exception as exc:
            # the executor would only meet the same outage again (and wait for it again)
            if is_unavailable(exc):
                raise ServiceUnavailable() from exc
            raise
        return {"data": data}
