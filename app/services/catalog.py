"""Catalog reads: pages of products, counts, products by SKU, and SKU snapshots."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.text import lookup_key
from app.services.container import Services
from app.storage import catalog as store
from app.storage.catalog import ProductFilter, ProductRow
from app.storage.inventory import SkuRecord, fetch_records_each

__all__ = [
    "ProductFilter",
    "ProductRow",
    "count_products",
    "list_products",
    "load_products",
    "load_records",
]


def _can_match(flt: ProductFilter) -> bool:
    """Whether any product could match: text that cannot be stored matches none (the answer
    is the one for a search that finds nothing)."""
    texts = [flt.search, flt.family, *flt.tags]
    return all(text is None or lookup_key(text) for text in texts)


async def list_products(
    services: Services, flt: ProductFilter, limit: int, after_sku: str | None
) -> list[ProductRow]:
    if not _can_match(flt):
        return []
    async with services.read() as conn:
        return await store.products_page(conn, flt, limit, after_sku)


async def count_products(services: Services, flt: ProductFilter) -> int:
    if not _can_match(flt):
        return 0
    async with services.read() as conn:
        return await store.count_products(conn, flt)


def _known(skus: Sequence[str]) -> list[str]:
    """The SKUs worth looking up: one that cannot be stored names no product."""
    return [sku for sku in skus if lookup_key(sku)]


async def load_products(services: Services, skus: Sequence[str]) -> list[ProductRow | None]:
    """Products for ``skus`` in the same order (None where unknown): a DataLoader batch."""
    wanted = _known(skus)
    found: dict[str, ProductRow] = {}
    if wanted:
        async with services.read() as conn:
            found = await store.products_by_sku(conn, wanted)
    return [found.get(sku) for sku in skus]


async def load_records(services: Services, skus: Sequence[str]) -> dict[str, SkuRecord | Exception]:
    """Snapshots for many SKUs in one round trip (the DataLoader batch behind lists and PDP).
    A SKU whose stored row cannot be read maps to that error, so one bad row fails only its
    own item of a list."""
    wanted = _known(skus)
    if not wanted:
        return {}
    async with services.read() as conn:
        return await fetch_records_each(conn, wanted)
