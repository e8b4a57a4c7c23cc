"""What every catalog and inventory mutation answers with: the product as it is now."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from app.storage.inventory import SkuRecord
from graphql_schema.context import Context
from graphql_schema.products.types import Product


async def changed_product(info: Info[Context, Any], record: SkuRecord | None) -> Product | None:
    """The product after a change (``record``: its new snapshot, or None when nothing
    changed): the request's loaders forget what they read before."""
    if record is None:
        return None
    loaders = info.context.loaders
    sku = record.snapshot.sku
    loaders.record_by_sku.clear_all()
    loaders.record_by_sku.prime(sku, record)
    loaders.product_by_sku.clear_all()
    row = await loaders.product_by_sku.load(sku)
    return Product.from_row(row) if row else None
