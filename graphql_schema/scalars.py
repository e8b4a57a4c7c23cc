"""Custom scalars (registered in the schema's ``scalar_map``)."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

Long = NewType("Long", int)
"""A 64-bit integer: money in minor units. GraphQL's Int stops at 2^31 - 1."""

SCALAR_MAP: dict[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (money in minor units); a JSON number, exact in "
        "JavaScript up to 2^53.",
        serialize=int,
        parse_value=int,
    ),
}
