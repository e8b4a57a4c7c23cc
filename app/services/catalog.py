"""Catalog reads: pages of products, counts, products by SKU, and SKU snapshots."""

from __future__ import annotations

from collections.abc import Sequence

from app.services.container import Services
from app.storage import catalog as store
from app.storage.catalog import ProductFilter, ProductRow
from app.storage.inventory import SkuRecord, fetch_records

__all__ = [
    "ProductFilter",
    "ProductRow",
    "count_products",
    "list_products",
    "load_products",
    "load_records",
]


async def list_products(
    services: Services, flt: ProductFilter, limit: int, after_sku: str | None
) -> list[ProductRow]:
    async with services.read() as conn:
        return await store.products_page(conn, flt, limit, after_sku)


async def count_products(services: Services, flt: ProductFilter) -> int:
    async with services.read() as conn:
        return await store.count_products(conn, flt)


async def load_products(services: Services, skus: Sequence[str]) -> list[ProductRow | None]:
    """Products for ``skus`` in the same order (None where unknown): a DataLoader batch."""
    async with services.read() as conn:
        found = await store.products_by_sku(conn, skus)
    return [found.get(sku) for sku in skus]


async def load_records(services: Services, skus: Sequence[str]) -> dict[str, SkuRecord]:
    """Snapshots for many SKUs in one round trip (the DataLoader batch behind lists and PDP)."""
    async with services.read() as conn:
        return await fetch_records(conn, skus)
