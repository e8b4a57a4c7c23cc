"""Custom scalars (registered in the schema's ``scalar_map``)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import IntValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

Long = NewType("Long", int)
"""A 64-bit integer: money in minor units. GraphQL's Int stops at 2^31 - 1."""

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def _long(value: Any) -> int:
    """An integer within int64, nothing else: not 1.5, not 2.0, not true, not "3"."""
    if type(value) is not int:
        raise ValueError(f"Long cannot represent a non-integer value: {value!r}")
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError(f"Long cannot represent a value outside 64 bits: {value}")
    return value


def _long_literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise ValueError("Long cannot represent a non-integer value")
    return _long(int(node.value))


SCALAR_MAP: dict[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit signed integer (money in minor units): a JSON number without a "
        "fraction, from -2^63 to 2^63 - 1 (exact in JavaScript only up to 2^53).",
        serialize=_long,
        parse_value=_long,
        parse_literal=_long_literal,
    ),
}
