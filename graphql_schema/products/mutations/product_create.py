"""createProduct: a sellable SKU with empty pools (ops)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.services import inventory
from app.services.error_codes import CatalogErrorCode as Code
from app.services.inventory import ProductInput
from app.services.results import Result, ServiceError
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import CatalogError, user_errors
from graphql_schema.inventory.changed import changed_product
from graphql_schema.money import MoneyInput, currency_of
from graphql_schema.products.types import Product


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    family: str | None = None
    description: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    options: JSON | None = strawberry.field(
        default=None, description='A JSON object, e.g. {"color": "red"}.'
    )
    price: MoneyInput | None = strawberry.field(
        default=None, description="The unit price; default 0 EUR."
    )
    release_date: date | None = None
    safety_stock: int = 0


@strawberry.type
class CreateProductPayload:
    product: Product | None
    user_errors: list[CatalogError]


async def create_product(
    info: Info[Context, Any], input: CreateProductInput
) -> CreateProductPayload:
    actor = await require_ops(info)
    options: Any = {} if input.options is None else input.options
    result: Result[Any]
    if not isinstance(options, dict):
        result = Result(
            errors=[
                ServiceError(
                    ("input", "options"),
                    Code.INVALID,
                    'options must be a JSON object, e.g. {"color": "red"}.',
                )
            ]
        )
    else:
        price = input.price
        result = await inventory.create_product(
            info.context.services,
            actor,
            ProductInput(
                sku=input.sku,
                name=input.name,
                family=input.family,
                description=input.description,
                tags=tuple(input.tags),
                options=options,
                price_minor=price.amount_minor if price else 0,
                currency=currency_of(price.currency) if price else "EUR",
                release_date=input.release_date,
                safety_stock=input.safety_stock,
            ),
        )
    return CreateProductPayload(
        product=await changed_product(info, result.value),
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(resolver=create_product, description="Create a sellable SKU.")
