"""Product types."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.storage.catalog import ProductRow
from graphql_schema.auth import require_internal
from graphql_schema.context import Context
from graphql_schema.enums import PoolKind
from graphql_schema.inventory.resolve import availability_for, pools_for
from graphql_schema.inventory.types import (
    Availability,
    BackorderSettings,
    InventoryPool,
    PreorderSettings,
    backorder_settings,
    preorder_settings,
)
from graphql_schema.money import Money, money
from graphql_schema.node import Node, register
from graphql_schema.relay import global_id


@strawberry.type(description="A sellable variant (one SKU) with its selling policy.")
class Product(Node):
    sku: str
    name: str
    family: str | None = strawberry.field(description="The style / parent product name.")
    description: str | None
    options: JSON
    tags: list[str]
    price: Money = strawberry.field(description="The unit price.")
    release_date: date | None
    safety_stock: int

    @strawberry.field(
        description="What a PDP shows for this product; null with this field's error for a "
        "bad argument (see Query.productAvailability)."
    )
    async def availability(
        self,
        info: Info[Context, Any],
        quantity: int = 1,
        channel: str | None = None,
        region: str | None = None,
    ) -> Availability | None:
        return await availability_for(info.context, self.sku, quantity, channel, region)

    @strawberry.field(
        description="The SKU's pools: READY, PRE_ORDER, BACKORDER, RESERVED, CHANNEL."
    )
    async def pools(
        self, info: Info[Context, Any], kind: PoolKind | None = None
    ) -> list[InventoryPool]:
        await require_internal(info)
        return await pools_for(info, self.sku, kind)

    @strawberry.field
    async def on_hand(self, info: Info[Context, Any]) -> int:
        await require_internal(info)
        record = await info.context.loaders.record_by_sku.load(self.sku)
        return record.snapshot.on_hand if record else 0

    @strawberry.field
    async def preorder(self, info: Info[Context, Any]) -> PreorderSettings | None:
        await require_internal(info)
        record = await info.context.loaders.record_by_sku.load(self.sku)
        return preorder_settings(record) if record else None

    @strawberry.field
    async def backorder(self, info: Info[Context, Any]) -> BackorderSettings | None:
        await require_internal(info)
        record = await info.context.loaders.record_by_sku.load(self.sku)
        return backorder_settings(record) if record else None

    @classmethod
    def from_row(cls, row: ProductRow) -> Product:
        return cls(
            id=global_id("Product", row.sku),
            sku=row.sku,
            name=row.name,
            family=row.family,
            description=row.description,
            options=cast(JSON, dict(row.options)),
            tags=list(row.tags),
            price=money(row.price_minor, row.currency),
            release_date=row.release_date,
            safety_stock=row.safety_stock,
        )


async def product_by_sku(info: Info[Context, Any], sku: str) -> Product | None:
    row = await info.context.loaders.product_by_sku.load(sku)
    return Product.from_row(row) if row else None


register("Product", product_by_sku)


@strawberry.input
class ProductFilterInput:
    search: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    family: str | None = strawberry.UNSET
