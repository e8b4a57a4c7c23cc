"""Catalog queries: products by SKU, pages of products."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from app.storage.tables import Product


@dataclass(frozen=True)
class ProductFilter:
    search: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    family: str | None = None


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(flt: ProductFilter) -> SelectOfScalar[Product]:
    stmt = select(Product)
    if flt.search:
        pattern = f"%{escape_like(flt.search)}%"
        stmt = stmt.where(
            or_(
                col(Product.sku).ilike(pattern, escape="\\"),
                col(Product.name).ilike(pattern, escape="\\"),
            )
        )
    if flt.tags:
        stmt = stmt.where(col(Product.tags).contains(list(flt.tags)))
    if flt.family:
        stmt = stmt.where(Product.family == flt.family)
    return stmt


async def products_page(
    session: AsyncSession, flt: ProductFilter, limit: int, after_sku: str | None
) -> list[Product]:
    """Products ordered by SKU (keyset pagination), at most ``limit`` rows."""
    stmt = _filtered(flt)
    if after_sku is not None:
        stmt = stmt.where(col(Product.sku) > after_sku)
    stmt = stmt.order_by(col(Product.sku)).limit(limit)
    return list((await session.scalars(stmt)).all())


async def count_products(session: AsyncSession, flt: ProductFilter) -> int:
    stmt = select(func.count()).select_from(_filtered(flt).subquery())
    return int((await session.scalars(stmt)).one())


async def products_by_sku(session: AsyncSession, skus: Sequence[str]) -> dict[str, Product]:
    if not skus:
        return {}
    stmt = select(Product).where(col(Product.sku).in_(list(skus)))
    return {row.sku: row for row in (await session.scalars(stmt)).all()}
