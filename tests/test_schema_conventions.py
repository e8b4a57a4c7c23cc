"""The exported schema keeps the conventions of docs/api.md (a lint over the SDL), and the lint
itself catches each kind of break."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    get_named_type,
    print_ast,
)

SDL = Path(__file__).resolve().parents[1] / "graphql_schema" / "schema.graphql"

# A mutation whose payload cannot report bad input (its only argument is an enum).
NO_USER_ERRORS = {"runScheduledJob"}


def _type_name(type_: object) -> str:
    return str(type_)


def _default(arg: Any) -> str | None:
    """An argument's default as written in the SDL (``20``), None when it has none."""
    node = arg.ast_node.default_value if arg.ast_node is not None else None
    return print_ast(node) if node is not None else None


def lint(schema: GraphQLSchema) -> list[str]:
    problems: list[str] = []
    types = schema.type_map
    objects = {
        name: t
        for name, t in types.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
    }
    node = types.get("Node")
    user_error = types.get("UserError")

    # one input and one payload per mutation
    mutation = schema.mutation_type
    used_inputs: dict[str, str] = {}
    used_payloads: dict[str, str] = {}
    for name, field in (mutation.fields if mutation else {}).items():
        base = name[0].upper() + name[1:]
        if list(field.args) != ["input"] or _type_name(field.args["input"].type) != f"{base}Input!":
            problems.append(f"mutation {name} does not take one `input: {base}Input!`")
        if _type_name(field.type) != f"{base}Payload!":
            problems.append(f"mutation {name} does not return its own {base}Payload!")
        for used, type_name in (
            (used_inputs, _type_name(get_named_type(field.args["input"].type)))
            if "input" in field.args
            else (used_inputs, ""),
            (used_payloads, _type_name(get_named_type(field.type))),
        ):
            if type_name and type_name in used:
                problems.append(f"{type_name} is shared by {used[type_name]} and {name}")
            used[type_name] = name
        payload = get_named_type(field.type)
        if isinstance(payload, GraphQLObjectType) and name not in NO_USER_ERRORS:
            errors = payload.fields.get("userErrors")
            item = get_named_type(errors.type) if errors else None
            if (
                errors is None
                or not isinstance(item, GraphQLObjectType)
                or user_error not in item.interfaces
            ):
                problems.append(f"{payload.name}.userErrors is not a list of a UserError type")

    for name, type_ in objects.items():
        for field_name, field in type_.fields.items():
            named = get_named_type(field.type)
            # error codes are enums
            is_error = name.endswith("Error") or (
                user_error is not None and user_error in type_.interfaces
            )
            if is_error and field_name == "code" and isinstance(named, GraphQLScalarType):
                problems.append(f"{name}.code is a {named.name}, not an enum")
            # related objects, not bare ids
            if (
                field_name.endswith("Id")
                and isinstance(named, GraphQLScalarType)
                and named.name == "ID"
            ):
                target = field_name[: -len("Id")].lower()
                if any(other.lower().endswith(target) for other in objects):
                    problems.append(f"{name}.{field_name} is a bare ID of an object type")
            # queries carry no userErrors
            if (
                name == "Query"
                and isinstance(named, GraphQLObjectType)
                and "userErrors" in named.fields
            ):
                problems.append(f"Query.{field_name} answers userErrors")
            # connections: first: Int = 20, after: String, totalCount: Int!
            if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
                first = field.args.get("first")
                after = field.args.get("after")
                if first is None or _type_name(first.type) != "Int" or _default(first) != "20":
                    problems.append(f"{name}.{field_name}(first:) is not `Int = 20`")
                if after is None or _type_name(after.type) != "String":
                    problems.append(f"{name}.{field_name}(after:) is not `String`")
                total = named.fields.get("totalCount")
                if total is None or _type_name(total.type) != "Int!":
                    problems.append(f"{named.name}.totalCount is not Int!")
                if total is not None and not (total.description or "").strip():
                    problems.append(f"{named.name}.totalCount has no description")
        # an object with an id is a Node
        id_field = type_.fields.get("id")
        if (
            id_field is not None
            and _type_name(id_field.type) == "ID!"
            and (node is None or node not in type_.interfaces)
        ):
            problems.append(f"{name} has an id but does not implement Node")
    return problems


def test_the_exported_schema_keeps_the_conventions() -> None:
    assert lint(build_schema(SDL.read_text(encoding="utf-8"))) == []


def test_every_error_code_is_an_enum_in_the_schema() -> None:
    schema = build_schema(SDL.read_text(encoding="utf-8"))
    codes = [t for n, t in schema.type_map.items() if n.endswith("ErrorCode")]
    assert len(codes) == 9
    assert all(isinstance(t, GraphQLEnumType) for t in codes)
    implementations = [
        t
        for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType) and any(i.name == "UserError" for i in t.interfaces)
    ]
    assert sorted(t.name for t in implementations) == sorted(
        t.name.replace("Code", "") for t in codes
    )
    assert isinstance(schema.type_map["UserError"], GraphQLInterfaceType)


def test_long_is_a_64_bit_integer_scalar_and_money_has_a_currency_enum() -> None:
    schema = build_schema(SDL.read_text(encoding="utf-8"))
    money = schema.type_map["Money"]
    assert isinstance(money, GraphQLObjectType)
    assert str(money.fields["currency"].type) == "CurrencyCode!"
    assert isinstance(schema.type_map["CurrencyCode"], GraphQLEnumType)
    assert isinstance(schema.type_map["MoneyInput"], GraphQLInputObjectType)
    assert not isinstance(money.fields["amountMinor"].type, GraphQLList)
    assert isinstance(money.fields["amountMinor"].type, GraphQLNonNull)


GOOD = """
interface Node { id: ID! }
interface UserError { field: [String!] message: String! }
enum ThingErrorCode { BAD }
type ThingError implements UserError { field: [String!] message: String! code: ThingErrorCode! }
type Thing implements Node { id: ID! name: String! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type ThingEdge { cursor: String! node: Thing! }
type ThingConnection { edges: [ThingEdge!]! pageInfo: PageInfo! "Counted when asked." totalCount: Int! }
input MakeThingInput { name: String! }
type MakeThingPayload { thing: Thing userErrors: [ThingError!]! }
type Query { things(first: Int = 20, after: String): ThingConnection! thing(id: ID!): Thing }
type Mutation { makeThing(input: MakeThingInput!): MakeThingPayload! }
"""

BREAKS = {
    "a mutation without its own input": (
        "makeThing(input: MakeThingInput!)",
        "makeThing(name: String!)",
        "does not take one `input: MakeThingInput!`",
    ),
    "a mutation without its own payload": (
        "makeThing(input: MakeThingInput!): MakeThingPayload!",
        "makeThing(input: MakeThingInput!): Thing!",
        "does not return its own MakeThingPayload!",
    ),
    "a code that is a String": (
        "code: ThingErrorCode!",
        "code: String!",
        "ThingError.code is a String, not an enum",
    ),
    "an object with an id that is not a Node": (
        "type Thing implements Node { id: ID! name: String! }",
        "type Thing { id: ID! name: String! }",
        "Thing has an id but does not implement Node",
    ),
    "a bare *Id where an object type exists": (
        "type Thing implements Node { id: ID! name: String! }",
        "type Thing implements Node { id: ID! name: String! thingId: ID }",
        "Thing.thingId is a bare ID of an object type",
    ),
    "a connection with another page size": (
        "things(first: Int = 20, after: String)",
        "things(first: Int! = 50, after: String)",
        "Query.things(first:) is not `Int = 20`",
    ),
    "a payload without typed user errors": (
        "type MakeThingPayload { thing: Thing userErrors: [ThingError!]! }",
        "type MakeThingPayload { thing: Thing }",
        "MakeThingPayload.userErrors is not a list of a UserError type",
    ),
}


def test_the_lint_passes_a_conventional_schema() -> None:
    assert lint(build_schema(GOOD)) == []


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_the_lint_fails_on(name: str) -> None:
    before, after, expected = BREAKS[name]
    assert before in GOOD
    problems = lint(build_schema(GOOD.replace(before, after)))
    assert any(expected in p for p in problems), problems
