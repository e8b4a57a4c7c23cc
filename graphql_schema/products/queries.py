"""Product queries: ``product(sku)`` and ``products(first, after, filter)``."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.services import catalog
from app.services.catalog import ProductFilter
from graphql_schema.context import Context
from graphql_schema.products.types import Product, ProductFilterInput, product_by_sku
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_cursor,
    make_connection,
)


def _to_filter(flt: ProductFilterInput | None) -> ProductFilter:
    if flt is None:
        return ProductFilter()
    return ProductFilter(
        search=flt.search or None,
        tags=tuple(flt.tags or ()),
        family=flt.family or None,
    )


@strawberry.type
class ProductQueries:
    @strawberry.field(description="One product by SKU; null when unknown.")
    async def product(self, info: Info[Context, Any], sku: str) -> Product | None:
        return await product_by_sku(info, sku)

    @strawberry.field(description="Products ordered by SKU.")
    async def products(
        self,
        info: Info[Context, Any],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: ProductFilterInput | None = None,
    ) -> Connection[Product]:
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        after_sku = decode_cursor("sku", after)
        flt = _to_filter(filter)
        rows = await catalog.list_products(services, flt, size + 1, after_sku)
        for row in rows:
            info.context.loaders.product_by_sku.prime(row.sku, row)

        async def count() -> int:
            return await catalog.count_products(services, flt)

        return make_connection(
            [Product.from_row(r) for r in rows],
            size,
            key=lambda p: p.sku,
            kind="sku",
            has_previous=after_sku is not None,
            count=count,
        )
