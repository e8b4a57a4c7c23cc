"""Catalog read use cases."""

from __future__ import annotations

from collections.abc import Sequence

from app.services.container import Services
from app.storage import catalog as catalog_store
from app.storage.catalog import ProductFilter
from app.storage.tables import Product

__all__ = ["ProductFilter", "count_products", "list_products", "load_products"]


async def list_products(
    services: Services, flt: ProductFilter, limit: int, after_sku: str | None
) -> list[Product]:
    async with services.read_session() as session:
        return await catalog_store.products_page(session, flt, limit, after_sku)


async def count_products(services: Services, flt: ProductFilter) -> int:
    async with services.read_session() as session:
        return await catalog_store.count_products(session, flt)


async def load_products(services: Services, skus: Sequence[str]) -> list[Product | None]:
    """Products for ``skus`` in the same order (None where unknown): a DataLoader batch."""
    async with services.read_session() as session:
        found = await catalog_store.products_by_sku(session, skus)
    return [found.get(sku) for sku in skus]
