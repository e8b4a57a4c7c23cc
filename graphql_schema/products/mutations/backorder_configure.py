"""configureBackorder: the whole backorder policy of a product (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import inventory
from app.services.inventory import BackorderInput
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import CatalogError, user_errors
from graphql_schema.inventory.changed import changed_product
from graphql_schema.inventory.terms import PaymentTermsInput, payment_input
from graphql_schema.products.types import Product


@strawberry.input(description="Replaces the whole backorder policy; cap null = unlimited.")
class ConfigureBackorderInput:
    sku: str
    allowed: bool
    cap: int | None = None
    message: str | None = None
    payment_terms: PaymentTermsInput | None = None


@strawberry.type
class ConfigureBackorderPayload:
    product: Product | None
    user_errors: list[CatalogError]


async def configure_backorder(
    info: Info[Context, Any], input: ConfigureBackorderInput
) -> ConfigureBackorderPayload:
    actor = await require_ops(info)
    result = await inventory.configure_backorder(
        info.context.services,
        actor,
        BackorderInput(
            sku=input.sku,
            allowed=input.allowed,
            cap=input.cap,
            message=input.message,
            payment=payment_input(input.payment_terms),
        ),
    )
    return ConfigureBackorderPayload(
        product=await changed_product(info, result.value),
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=configure_backorder,
    description="Set the backorder policy: allowed, cap, message, payment terms.",
)
