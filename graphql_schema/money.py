"""Money: an amount in minor units with its ISO 4217 currency, in and out."""

from __future__ import annotations

from enum import Enum
from typing import Any, cast

import strawberry
from babel.numbers import list_currencies

from graphql_schema.scalars import Long

CurrencyCode: Any = strawberry.enum(
    cast(Any, Enum("CurrencyCode", [(code, code) for code in sorted(list_currencies())])),
    description="An ISO 4217 currency code.",
)


@strawberry.type(description="An amount of money: minor units (cents) of a currency.")
class Money:
    amount_minor: Long
    currency: str = strawberry.field(graphql_type=CurrencyCode)


@strawberry.input(description="An amount of money: minor units (cents) of a currency.")
class MoneyInput:
    amount_minor: Long
    currency: str = strawberry.field(graphql_type=CurrencyCode)


def money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor=Long(amount_minor), currency=currency)


def currency_of(value: object) -> str:
    """The code of a ``CurrencyCode`` input value (the enum member's value)."""
    return str(getattr(value, "value", value))
