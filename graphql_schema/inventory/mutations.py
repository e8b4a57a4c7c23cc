"""Admin mutations (scope ``ops``). Payloads carry ``userErrors``; bad input changes nothing."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.domain.availability import PaymentTerms as DomainPaymentTerms
from app.services import inventory
from app.services.error_codes import CatalogErrorCode
from app.services.inventory import BackorderInput, PaymentInput, PreorderInput, ProductInput
from app.services.results import Result
from app.storage.inventory import SkuRecord
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import UserError
from graphql_schema.inventory.types import PaymentTermsKind, to_user_errors
from graphql_schema.products.types import Product
from graphql_schema.scalars import Long


@strawberry.enum(description="Why on-hand stock changed; recorded in the stock ledger.")
class StockReason(Enum):
    COUNT = "COUNT"
    RECEIPT = "RECEIPT"
    DAMAGE = "DAMAGE"
    LOSS = "LOSS"
    RETURN = "RETURN"
    CORRECTION = "CORRECTION"
    TRANSFER = "TRANSFER"
    SHIPMENT = "SHIPMENT"


@strawberry.type
class ProductPayload:
    product: Product | None
    user_errors: list[UserError]


@strawberry.input
class PaymentTermsInput:
    kind: PaymentTermsKind = PaymentTermsKind.FULL
    deposit_percent: float | None = None
    deposit_amount_minor: Long | None = None


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    family: str | None = None
    description: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    options: strawberry.scalars.JSON | None = None
    price_minor: Long = Long(0)
    currency: str = "EUR"
    release_date: date | None = None
    safety_stock: int = 0


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


@strawberry.input(description="Replaces the whole backorder policy; cap null = unlimited.")
class ConfigureBackorderInput:
    sku: str
    allowed: bool
    cap: int | None = None
    message: str | None = None
    payment_terms: PaymentTermsInput | None = None


@strawberry.input
class SetStockInput:
    sku: str
    location: str
    quantity: int
    reason: StockReason = StockReason.COUNT
    note: str | None = None


@strawberry.input
class AdjustStockInput:
    sku: str
    location: str
    delta: int
    reason: StockReason
    note: str | None = None


@strawberry.input
class SetSafetyStockInput:
    sku: str
    quantity: int


@strawberry.input(description="Give quantity or sharePercent; 0 releases the hold.")
class AllocateChannelPoolInput:
    sku: str
    channel: str
    quantity: int | None = None
    share_percent: float | None = None


def _payment(value: PaymentTermsInput | None) -> PaymentInput:
    if value is None:
        return PaymentInput()
    return PaymentInput(
        terms=DomainPaymentTerms(value.kind.value),
        deposit_percent=value.deposit_percent,
        deposit_minor=value.deposit_amount_minor,
    )


async def _payload(info: Info[Context, Any], result: Result[SkuRecord]) -> ProductPayload:
    if result.value is None:
        return ProductPayload(product=None, user_errors=to_user_errors(result.errors))
    loaders = info.context.loaders
    sku = result.value.snapshot.sku
    loaders.record_by_sku.clear_all()
    loaders.record_by_sku.prime(sku, result.value)
    loaders.product_by_sku.clear_all()
    row = await loaders.product_by_sku.load(sku)
    return ProductPayload(product=Product.from_row(row) if row else None, user_errors=[])


@strawberry.type
class InventoryMutations:
    @strawberry.mutation(description="Create a sellable SKU with empty pools.")
    async def create_product(
        self, info: Info[Context, Any], input: CreateProductInput
    ) -> ProductPayload:
        actor = await require_ops(info)
        options: Any = {} if input.options is None else input.options
        if not isinstance(options, dict):
            return await _payload(
                info,
                Result[SkuRecord].fail(
                    CatalogErrorCode.INVALID,
                    'options must be a JSON object, e.g. {"color": "red"}.',
                    "input",
                    "options",
                ),
            )
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
                price_minor=input.price_minor,
                currency=input.currency,
                release_date=input.release_date,
                safety_stock=input.safety_stock,
            ),
        )
        return await _payload(info, result)

    @strawberry.mutation(description="Set the pre-order policy: launch date, cap, message, terms.")
    async def configure_preorder(
        self, info: Info[Context, Any], input: ConfigurePreorderInput
    ) -> ProductPayload:
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
                payment=_payment(input.payment_terms),
            ),
        )
        return await _payload(info, result)

    @strawberry.mutation(description="Set the backorder policy: allowed, cap, message, terms.")
    async def configure_backorder(
        self, info: Info[Context, Any], input: ConfigureBackorderInput
    ) -> ProductPayload:
        actor = await require_ops(info)
        result = await inventory.configure_backorder(
            info.context.services,
            actor,
            BackorderInput(
                sku=input.sku,
                allowed=input.allowed,
                cap=input.cap,
                message=input.message,
                payment=_payment(input.payment_terms),
            ),
        )
        return await _payload(info, result)

    @strawberry.mutation(description="Set on-hand stock at a location (e.g. after a count).")
    async def set_stock(self, info: Info[Context, Any], input: SetStockInput) -> ProductPayload:
        actor = await require_ops(info)
        result = await inventory.change_stock(
            info.context.services,
            actor,
            input.sku,
            input.location,
            quantity=input.quantity,
            reason=input.reason.value,
            note=input.note,
        )
        return await _payload(info, result)

    @strawberry.mutation(description="Add or remove on-hand stock at a location, with a reason.")
    async def adjust_stock(
        self, info: Info[Context, Any], input: AdjustStockInput
    ) -> ProductPayload:
        actor = await require_ops(info)
        result = await inventory.change_stock(
            info.context.services,
            actor,
            input.sku,
            input.location,
            delta=input.delta,
            reason=input.reason.value,
            note=input.note,
        )
        return await _payload(info, result)

    @strawberry.mutation(description="Units never sold as READY.")
    async def set_safety_stock(
        self, info: Info[Context, Any], input: SetSafetyStockInput
    ) -> ProductPayload:
        actor = await require_ops(info)
        result = await inventory.set_safety_stock(
            info.context.services, actor, input.sku, input.quantity
        )
        return await _payload(info, result)

    @strawberry.mutation(description="Hold READY stock for one channel (fixed or a share).")
    async def allocate_channel_pool(
        self, info: Info[Context, Any], input: AllocateChannelPoolInput
    ) -> ProductPayload:
        actor = await require_ops(info)
        result = await inventory.allocate_channel_pool(
            info.context.services,
            actor,
            input.sku,
            input.channel,
            quantity=input.quantity,
            share_percent=input.share_percent,
        )
        return await _payload(info, result)
