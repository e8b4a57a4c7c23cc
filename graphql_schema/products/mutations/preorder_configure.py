"""configurePreorder: the whole pre-order policy of a product (ops)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import inventory
from app.services.inventory import PreorderInput
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import CatalogError, user_errors
from graphql_schema.inventory.changed import changed_product
from graphql_schema.inventory.terms import PaymentTermsInput, payment_input
from graphql_schema.products.types import Product


@strawberry.input(description="Replaces the whole pre-order policy; cap null = unlimited.")
class ConfigurePreorderInput:
    sku: str
    enabled: bool
    release_date: date | None = None
    cap: int | None = None
    message: str | None = strawberry.field(
        default=None, description='Template such as "Ships from {date}".'
    )
    payment_terms: PaymentTermsInput | None = None


@strawberry.type
class ConfigurePreorderPayload:
    product: Product | None
    user_errors: list[CatalogError]


async def configure_preorder(
    info: Info[Context, Any], input: ConfigurePreorderInput
) -> ConfigurePreorderPayload:
    actor = await require_ops(info)
    result = await inventory.configure_preorder(
        info.context.services,
        actor,
        PreorderInput(
            sku=input.sku,
            enabled=input.enabled,
            release_date=input.release_date,
            cap=input.cap,
            message=input.message,
            payment=payment_input(input.payment_terms),
        ),
    )
    return ConfigurePreorderPayload(
        product=await changed_product(info, result.value),
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=configure_preorder,
    description="Set the pre-order policy: launch date, cap, message, payment terms.",
)
