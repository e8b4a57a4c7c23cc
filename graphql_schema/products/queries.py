"""Product queries: ``product(sku)`` and ``products(first, after, filter)``."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.services import catalog
from app.services.catalog import ProductFilter
from graphql_schema.context import Context
from graphql_schema.products.types import Product, ProductFilterInput
from graphql_schema.relay import Connection, check_page_size, decode_cursor, make_connection


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
    async def product(self, info: Info[Context, None], sku: str) -> Product | None:
        row = await info.context.loaders.product_by_sku.load(sku)
        return Product.from_row(row) if row else None

    @strawberry.field(description="Products ordered by SKU, as a Relay connection.")
    async def products(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        filter: ProductFilterInput | None = None,
    ) -> Connection[Product]:
        size = check_page_size(first)
        after_sku = decode_cursor("sku", after)
        flt = _to_filter(filter)
        rows = await catalog.list_products(info.context.services, flt, size + 1, after_sku)
        for row in rows:
            info.context.loaders.product_by_sku.prime(row.sku, row)
        # totalCount costs a COUNT over the filter: only when the client asks for it.
        wants_total = any(
            getattr(sub, "name", None) == "totalCount"
            for f in info.selected_fields
            for sub in f.selections
        )
        total = await catalog.count_products(info.context.services, flt) if wants_total else None
        return make_connection(
            [Product.from_row(r) for r in rows],
            size,
            key=lambda p: p.sku,
            kind="sku",
            has_previous=after_sku is not None,
            total_count=total,
        )
