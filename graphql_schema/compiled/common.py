"""What the compilers of trusted documents share: a plan of the selection, compiled once, and
its completion (the result serialised along the plan with the schema's own leaf serialisers).

Anything a plan cannot answer raises ``Fallback``; the request then goes to the normal
executor, which is counted (``oms_compiled_fallbacks_total``) and logged once per document
and reason.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)

from app.metrics import COMPILED_FALLBACKS

log = logging.getLogger(__name__)

BACKREF = "strawberry-definition"


class Fallback(Exception):
    """The compiled plan cannot answer this request; the normal executor will."""


@dataclass(frozen=True)
class Plan:
    key: str
    python_name: str | None  # None for __typename
    type: GraphQLOutputType
    children: tuple[Plan, ...] | None
    special: str | None = None  # a resolver field whose value the caller fetched beforehand


@dataclass(frozen=True)
class Handoff:
    """Let the normal executor answer, with ``value`` set in ``var`` while it runs."""

    var: ContextVar[Any]
    value: Any


def named_type(type_: GraphQLOutputType) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def compile_selection(
    parent: GraphQLObjectType, node: FieldNode, specials: frozenset[str] = frozenset()
) -> Plan:
    if node.directives:
        raise Fallback("directives")
    key = node.alias.value if node.alias else node.name.value
    if node.name.value == "__typename":
        return Plan(key, None, parent, None)
    field = parent.fields[node.name.value]
    definition = field.extensions.get(BACKREF)
    special: str | None = f"{parent.name}.{node.name.value}"
    if special not in specials:
        special = None
        if definition is None or definition.base_resolver is not None:
            raise Fallback(f"{parent.name}.{node.name.value} is not a plain field")
    if node.arguments or definition is None:
        raise Fallback(f"{parent.name}.{node.name.value} takes arguments")
    named = named_type(field.type)
    children = None
    if isinstance(named, GraphQLObjectType):
        if node.selection_set is None:
            raise Fallback("object without selection")
        children = tuple(compile_children(named, node, specials))
    return Plan(key, definition.python_name, field.type, children, special)


def compile_children(
    type_: GraphQLObjectType, node: FieldNode, specials: frozenset[str] = frozenset()
) -> list[Plan]:
    assert node.selection_set is not None
    plans = []
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode):
            raise Fallback("fragments are not compiled")
        plans.append(compile_selection(type_, selection, specials))
    return plans


def selects(plan: Plan, special: str) -> bool:
    return plan.special == special or any(selects(c, special) for c in plan.children or ())


def complete(
    value: Any, type_: GraphQLOutputType, plan: Plan, fetched: dict[str, Any] | None = None
) -> Any:
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            raise Fallback("null in a non-null position")
        return complete(value, type_.of_type, plan, fetched)
    if value is None:
        return None
    if isinstance(type_, GraphQLList):
        return [complete(item, type_.of_type, plan, fetched) for item in value]
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return type_.serialize(value)
    if not isinstance(type_, GraphQLObjectType) or plan.children is None:
        raise Fallback(f"unexpected type {type_}")
    out: dict[str, Any] = {}
    for child in plan.children:
        if child.python_name is None:
            out[child.key] = type_.name
        elif child.special is not None:
            if fetched is None or child.special not in fetched:
                raise Fallback(f"{child.special} was not fetched")
            out[child.key] = complete(fetched[child.special], child.type, child, fetched)
        else:
            out[child.key] = complete(getattr(value, child.python_name), child.type, child, fetched)
    return out


class FallbackLog:
    """Counts every request of a compiled document that the executor answers instead, and
    logs the first of each reason (a document that keeps falling back would otherwise flood
    the log). Reasons come from code, never from input."""

    def __init__(self, document: str | None) -> None:
        self.document = document or "anonymous"
        self._logged: set[str] = set()

    def __call__(self, reason: str, detail: str = "") -> None:
        COMPILED_FALLBACKS.labels(self.document, reason).inc()
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning(
                "compiled document answered by the executor",
                extra={"document": self.document, "reason": reason, "detail": detail},
            )
