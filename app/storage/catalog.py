"""Products: pages and look-ups for the catalog, and the product row writes of admin use cases.

Lock order: an admin write locks the product row (``lock_product``, FOR NO KEY UPDATE) before
any pool or stock row of that SKU.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from app.domain.text import lookup_key


@dataclass(frozen=True)
class ProductFilter:
    search: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    family: str | None = None


@dataclass(frozen=True)
class ProductRow:
    id: uuid.UUID
    sku: str
    name: str
    family: str | None
    description: str | None
    options: dict[str, Any]
    tags: tuple[str, ...]
    price_minor: int
    currency: str
    release_date: date | None
    safety_stock: int


PRODUCT_COLUMNS = (
    "id, sku, name, family, description, options, tags, price_minor, currency, release_date, "
    "safety_stock"
)


def _product(row: Mapping[str, Any]) -> ProductRow:
    options = row["options"]
    return ProductRow(
        id=row["id"],
        sku=row["sku"],
        name=row["name"],
        family=row["family"],
        description=row["description"],
        options=orjson.loads(options) if isinstance(options, str) else dict(options),
        tags=tuple(row["tags"]),
        price_minor=int(row["price_minor"]),
        currency=row["currency"],
        release_date=row["release_date"],
        safety_stock=int(row["safety_stock"]),
    )


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(flt: ProductFilter, args: list[Any]) -> str:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["TRUE"]
    if flt.search:
        pattern = arg(f"%{escape_like(flt.search)}%")
        where.append(f"(sku ILIKE {pattern} ESCAPE '\\' OR name ILIKE {pattern} ESCAPE '\\')")
    if flt.tags:
        where.append(f"tags @> {arg(list(flt.tags))}::text[]")
    if flt.family:
        where.append(f"family = {arg(flt.family)}")
    return " AND ".join(where)


async def products_page(
    conn: asyncpg.Connection, flt: ProductFilter, limit: int, after_sku: str | None
) -> list[ProductRow]:
    """Products ordered by SKU (keyset pagination), at most ``limit`` rows."""
    args: list[Any] = []
    where = _where(flt, args)
    if after_sku is not None:
        args.append(after_sku)
        where += f" AND sku > ${len(args)}"
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {PRODUCT_COLUMNS} FROM products WHERE {where} ORDER BY sku LIMIT ${len(args)}",
        *args,
    )
    return [_product(r) for r in rows]


async def count_products(conn: asyncpg.Connection, flt: ProductFilter) -> int:
    args: list[Any] = []
    where = _where(flt, args)
    return int(await conn.fetchval(f"SELECT count(*) FROM products WHERE {where}", *args))


async def products_by_sku(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, ProductRow]:
    skus = [sku for sku in skus if lookup_key(sku)]  # one that cannot be stored is unknown
    if not skus:
        return {}
    rows = await conn.fetch(
        f"SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = ANY($1::text[])", list(skus)
    )
    return {r["sku"]: _product(r) for r in rows}


# ---------------------------------------------------------------- admin writes


async def lock_product(conn: asyncpg.Connection, sku: str) -> asyncpg.Record | None:
    """Lock one product row for an admin write; None when the SKU is unknown (or cannot be
    stored, ``app.domain.text.lookup_key``)."""
    if not lookup_key(sku):
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM products WHERE sku = $1 FOR NO KEY UPDATE", sku
    )
    return row


async def lock_product_with_preorders(conn: asyncpg.Connection, sku: str) -> asyncpg.Record | None:
    """Lock a product row (supply and receipts) with what its PRE_ORDER pool has committed."""
    if not lookup_key(sku):
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT p.id, p.sku, p.release_date, p.preorder_enabled, p.released_at, "
        "p.allocation_policy, "
        "COALESCE((SELECT ip.committed FROM inventory_pools ip WHERE ip.product_id = p.id "
        "AND ip.kind = 'PRE_ORDER'), 0) AS preorder_committed "
        "FROM products p WHERE p.sku = $1 FOR NO KEY UPDATE OF p",
        sku,
    )
    return row


async def insert_product(
    conn: asyncpg.Connection,
    *,
    sku: str,
    name: str,
    family: str | None,
    description: str | None,
    tags: Sequence[str],
    options: Mapping[str, Any],
    price_minor: int,
    currency: str,
    release_date: date | None,
    safety_stock: int,
) -> uuid.UUID | None:
    """The new product's id; None when the SKU exists already."""
    product_id: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO products (sku, name, family, description, tags, options, price_minor, "
        "currency, release_date, safety_stock) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10) "
        "ON CONFLICT (sku) DO NOTHING RETURNING id",
        sku,
        name,
        family,
        description,
        list(tags),
        orjson.dumps(options, default=str).decode(),
        price_minor,
        currency,
        release_date,
        safety_stock,
    )
    return product_id


async def set_preorder_policy(
    conn: asyncpg.Connection,
    product_id: uuid.UUID,
    *,
    enabled: bool,
    release_date: date | None,
    message: str | None,
    terms: str,
    deposit_percent: Decimal | None,
    deposit_minor: int | None,
    today: date,
) -> None:
    await conn.execute(
        "UPDATE products SET preorder_enabled = $2, release_date = $3, "
        "preorder_message = $4, preorder_payment = $5, "
        "preorder_deposit_percent = $6, preorder_deposit_minor = $7, "
        # a launch moved to the future must be released again by the release job
        "released_at = CASE WHEN $3::date > $8::date THEN NULL ELSE released_at END, "
        "updated_at = now() WHERE id = $1",
        product_id,
        enabled,
        release_date,
        message,
        terms,
        deposit_percent,
        deposit_minor,
        today,
    )


async def set_backorder_policy(
    conn: asyncpg.Connection,
    product_id: uuid.UUID,
    *,
    allowed: bool,
    message: str | None,
    terms: str,
    deposit_percent: Decimal | None,
    deposit_minor: int | None,
) -> None:
    await conn.execute(
        "UPDATE products SET backorder_allowed = $2, backorder_message = $3, "
        "backorder_payment = $4, backorder_deposit_percent = $5, "
        "backorder_deposit_minor = $6, updated_at = now() WHERE id = $1",
        product_id,
        allowed,
        message,
        terms,
        deposit_percent,
        deposit_minor,
    )


async def set_safety_stock(conn: asyncpg.Connection, product_id: uuid.UUID, units: int) -> None:
    await conn.execute(
        "UPDATE products SET safety_stock = $2, updated_at = now() WHERE id = $1",
        product_id,
        units,
    )


async def set_allocation_policy(
    conn: asyncpg.Connection, product_id: uuid.UUID, policy: str
) -> None:
    await conn.execute(
        "UPDATE products SET allocation_policy = $2, updated_at = now() WHERE id = $1",
        product_id,
        policy,
    )


# ---------------------------------------------------------------- the launch

RELEASABLE_SQL = """
SELECT id, sku FROM products
WHERE release_date IS NOT NULL AND release_date <= $1 AND released_at IS NULL
ORDER BY sku
LIMIT 200
FOR NO KEY UPDATE SKIP LOCKED
"""


async def releasable_products(conn: asyncpg.Connection, today: date) -> list[asyncpg.Record]:
    """Products whose launch date has come and whose waiting pre-orders were not served yet;
    locked, skipping any another replica holds."""
    rows: list[asyncpg.Record] = await conn.fetch(RELEASABLE_SQL, today)
    return rows


async def mark_released(conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE products SET released_at = now() WHERE id = ANY($1::uuid[])", list(product_ids)
    )
