"""Catalog and inventory administration: products, policies, stock, safety stock, channel holds.

Each function is one use case in one transaction: it validates, locks the product row, writes,
records the change (stock ledger, audit trail) and commits, or returns typed errors and
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.availability import PaymentTerms, PoolKind
from app.services.allocation import lock_pools_in_session, settle_in_session
from app.services.container import Services
from app.services.results import Actor, CatalogErrorCode, Result, ServiceError
from app.storage import inventory as store
from app.storage.inventory import SkuRecord, iso
from app.storage.notify import notify_inventory_changed

E = CatalogErrorCode

STOCK_REASONS = frozenset(
    {"COUNT", "RECEIPT", "DAMAGE", "LOSS", "RETURN", "CORRECTION", "TRANSFER", "SHIPMENT"}
)

MAX_UNITS = 100_000_000
"""Upper bound for any unit count an admin sets: stock, deltas, caps, safety stock, holds.

Far above any real SKU, far below PostgreSQL's ``int`` range, so sums of counters stay in it.
"""


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    family: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    price_minor: int = 0
    currency: str = "EUR"
    release_date: date | None = None
    safety_stock: int = 0


@dataclass(frozen=True)
class PaymentInput:
    terms: PaymentTerms = PaymentTerms.FULL
    deposit_percent: float | None = None
    deposit_minor: int | None = None


@dataclass(frozen=True)
class PreorderInput:
    sku: str
    enabled: bool
    release_date: date | None = None
    cap: int | None = None
    message: str | None = None
    payment: PaymentInput = field(default_factory=PaymentInput)


@dataclass(frozen=True)
class BackorderInput:
    sku: str
    allowed: bool
    cap: int | None = None
    message: str | None = None
    payment: PaymentInput = field(default_factory=PaymentInput)


async def load_records(services: Services, skus: list[str]) -> dict[str, SkuRecord]:
    """Snapshots for many SKUs in one round trip (the DataLoader batch behind lists and PDP)."""
    async with services.read_pool.acquire() as conn:
        return await store.fetch_records(conn, skus)


async def _record_in(session: AsyncSession, sku: str) -> SkuRecord:
    return (await store.load_records(session, [sku]))[sku]


async def _changed(session: AsyncSession, sku: str) -> SkuRecord:
    """End of every inventory write: tell all replicas (at commit) and return the new state."""
    await notify_inventory_changed(session, sku)
    return await _record_in(session, sku)


def _not_found(sku: str, *path: str) -> Result[SkuRecord]:
    return Result.fail(E.NOT_FOUND, f"No product with SKU {sku!r}.", *(path or ("sku",)))


def _too_many(quantity: int | None, *path: str, what: str = "Quantity") -> ServiceError | None:
    """An ``INVALID_QUANTITY`` error when ``quantity`` is above ``MAX_UNITS``."""
    if quantity is None or quantity <= MAX_UNITS:
        return None
    return ServiceError(path, E.INVALID_QUANTITY, f"{what} must be at most {MAX_UNITS}.")


def _check_cap(cap: int | None) -> list[ServiceError]:
    if cap is not None and cap < 0:
        return [ServiceError(("input", "cap"), E.INVALID_QUANTITY, "Cap must be >= 0.")]
    too_many = _too_many(cap, "input", "cap", what="Cap")
    return [too_many] if too_many else []


def _check_payment(payment: PaymentInput, prefix: str) -> list[ServiceError]:
    """Deposit rules; errors point at ``<prefix>.paymentTerms`` (the GraphQL input field)."""
    errors: list[ServiceError] = []
    where = (prefix, "paymentTerms")
    if payment.terms is PaymentTerms.DEPOSIT:
        if (payment.deposit_percent is None) == (payment.deposit_minor is None):
            errors.append(
                ServiceError(
                    where,
                    E.INVALID_PAYMENT_TERMS,
                    "A DEPOSIT needs exactly one of depositPercent or depositAmountMinor.",
                )
            )
        if payment.deposit_percent is not None and not 0 < payment.deposit_percent < 100:
            errors.append(
                ServiceError(
                    (*where, "depositPercent"),
                    E.INVALID_PAYMENT_TERMS,
                    "depositPercent must be above 0 and below 100.",
                )
            )
        if payment.deposit_minor is not None and payment.deposit_minor <= 0:
            errors.append(
                ServiceError(
                    (*where, "depositAmountMinor"),
                    E.INVALID_PAYMENT_TERMS,
                    "depositAmountMinor must be positive.",
                )
            )
    elif payment.deposit_percent is not None or payment.deposit_minor is not None:
        errors.append(
            ServiceError(
                where, E.INVALID_PAYMENT_TERMS, "Deposit amounts apply only to DEPOSIT terms."
            )
        )
    return errors


async def create_product(services: Services, actor: Actor, data: ProductInput) -> Result[SkuRecord]:
    errors: list[ServiceError] = []
    if not data.sku.strip() or len(data.sku) > 64:
        errors.append(ServiceError(("input", "sku"), E.INVALID, "SKU must be 1 to 64 characters."))
    if not data.name.strip():
        errors.append(ServiceError(("input", "name"), E.INVALID, "Name must not be empty."))
    if data.price_minor < 0:
        errors.append(
            ServiceError(("input", "priceMinor"), E.INVALID, "Price must not be negative.")
        )
    if len(data.currency) != 3 or not data.currency.isalpha():
        errors.append(
            ServiceError(("input", "currency"), E.INVALID, "Currency is an ISO 4217 code.")
        )
    if data.safety_stock < 0:
        errors.append(
            ServiceError(("input", "safetyStock"), E.INVALID_QUANTITY, "Safety stock must be >= 0.")
        )
    elif too_many := _too_many(data.safety_stock, "input", "safetyStock", what="Safety stock"):
        errors.append(too_many)
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        try:
            row = (
                await uow.session.execute(
                    text(
                        "INSERT INTO products (sku, name, family, description, tags, options, "
                        "price_minor, currency, release_date, safety_stock) VALUES "
                        "(:sku, :name, :family, :description, :tags, CAST(:options AS jsonb), "
                        ":price, :currency, :release_date, :safety) RETURNING id"
                    ),
                    {
                        "sku": data.sku,
                        "name": data.name,
                        "family": data.family,
                        "description": data.description,
                        "tags": sorted({t.strip() for t in data.tags if t.strip()}),
                        "options": _json(data.options),
                        "price": data.price_minor,
                        "currency": data.currency.upper(),
                        "release_date": data.release_date,
                        "safety": data.safety_stock,
                    },
                )
            ).one()
        except IntegrityError:
            return Result.fail(E.DUPLICATE_SKU, f"SKU {data.sku!r} already exists.", "input", "sku")
        await store.create_pools(uow.session, row.id)
        await store.recompute_ready(uow.session, row.id)
        await store.record_audit(
            uow.session, "product", data.sku, "product.created", actor.name, None, _asdict(data)
        )
        record = await _changed(uow.session, data.sku)
        await uow.commit()
    return Result(record)


async def configure_preorder(
    services: Services, actor: Actor, data: PreorderInput
) -> Result[SkuRecord]:
    errors = _check_payment(data.payment, "input") + _check_cap(data.cap)
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        product = await store.lock_product(uow.session, data.sku)
        if product is None:
            return _not_found(data.sku, "input", "sku")
        pool = await _set_cap(uow.session, product.id, "PRE_ORDER", data.cap)
        if pool is not None:
            return Result.fail(
                E.CAP_BELOW_COMMITTED,
                f"{pool} pre-order units are already committed; the cap cannot go below that.",
                "input",
                "cap",
            )
        await uow.session.execute(
            text(
                "UPDATE products SET preorder_enabled = :enabled, release_date = :release, "
                "preorder_message = :message, preorder_payment = :terms, "
                "preorder_deposit_percent = :pct, preorder_deposit_minor = :minor, "
                # a launch moved to the future must be released again by the release job
                "released_at = CASE WHEN CAST(:release AS date) > CAST(:today AS date) "
                "THEN NULL ELSE released_at END, "
                "updated_at = now() WHERE id = :pid"
            ),
            {
                "today": services.today(),
                "enabled": data.enabled,
                "release": data.release_date,
                "message": data.message,
                "terms": data.payment.terms.value,
                "pct": _decimal(data.payment.deposit_percent),
                "minor": data.payment.deposit_minor,
                "pid": product.id,
            },
        )
        before = {
            "enabled": product.preorder_enabled,
            "releaseDate": iso(product.release_date),
            "message": product.preorder_message,
            "payment": product.preorder_payment,
        }
        await store.record_audit(
            uow.session,
            "product",
            data.sku,
            "preorder.configured",
            actor.name,
            before,
            _asdict(data),
        )
        record = await _changed(uow.session, data.sku)
        await uow.commit()
    return Result(record)


async def configure_backorder(
    services: Services, actor: Actor, data: BackorderInput
) -> Result[SkuRecord]:
    errors = _check_payment(data.payment, "input") + _check_cap(data.cap)
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        product = await store.lock_product(uow.session, data.sku)
        if product is None:
            return _not_found(data.sku, "input", "sku")
        committed = await _set_cap(uow.session, product.id, "BACKORDER", data.cap)
        if committed is not None:
            return Result.fail(
                E.CAP_BELOW_COMMITTED,
                f"{committed} backorder units are already waiting; the cap cannot go below that.",
                "input",
                "cap",
            )
        await uow.session.execute(
            text(
                "UPDATE products SET backorder_allowed = :allowed, backorder_message = :message, "
                "backorder_payment = :terms, backorder_deposit_percent = :pct, "
                "backorder_deposit_minor = :minor, updated_at = now() WHERE id = :pid"
            ),
            {
                "allowed": data.allowed,
                "message": data.message,
                "terms": data.payment.terms.value,
                "pct": _decimal(data.payment.deposit_percent),
                "minor": data.payment.deposit_minor,
                "pid": product.id,
            },
        )
        before = {
            "allowed": product.backorder_allowed,
            "message": product.backorder_message,
            "payment": product.backorder_payment,
        }
        await store.record_audit(
            uow.session,
            "product",
            data.sku,
            "backorder.configured",
            actor.name,
            before,
            _asdict(data),
        )
        record = await _changed(uow.session, data.sku)
        await uow.commit()
    return Result(record)


async def _set_cap(
    session: AsyncSession, product_id: Any, kind: str, cap: int | None
) -> int | None:
    """Set a pool's cap atomically; returns the committed count when the cap would be below it."""
    result = await session.execute(
        text(
            "UPDATE inventory_pools SET capacity = :cap, updated_at = now() "
            "WHERE product_id = :pid AND kind = :kind "
            "AND (CAST(:cap AS int) IS NULL OR committed <= :cap) RETURNING id"
        ),
        {"cap": cap, "pid": product_id, "kind": kind},
    )
    if result.first() is not None:
        return None
    committed = await session.execute(
        text("SELECT committed FROM inventory_pools WHERE product_id = :pid AND kind = :kind"),
        {"pid": product_id, "kind": kind},
    )
    return int(committed.scalar_one())


async def change_stock(
    services: Services,
    actor: Actor,
    sku: str,
    location: str,
    *,
    quantity: int | None = None,
    delta: int | None = None,
    reason: str,
    note: str | None = None,
) -> Result[SkuRecord]:
    """``setStock`` (absolute ``quantity``, e.g. a count) or ``adjustStock`` (``delta``)."""
    if (quantity is None) == (delta is None):
        raise ValueError("give exactly one of quantity or delta")
    errors: list[ServiceError] = []
    if quantity is not None and quantity < 0:
        errors.append(
            ServiceError(("input", "quantity"), E.INVALID_QUANTITY, "Quantity must be >= 0.")
        )
    elif too_many := _too_many(quantity, "input", "quantity"):
        errors.append(too_many)
    if delta == 0:
        errors.append(ServiceError(("input", "delta"), E.INVALID_QUANTITY, "Delta must not be 0."))
    elif delta is not None and abs(delta) > MAX_UNITS:
        errors.append(
            ServiceError(
                ("input", "delta"),
                E.INVALID_QUANTITY,
                f"Delta must be between -{MAX_UNITS} and {MAX_UNITS}.",
            )
        )
    if reason not in STOCK_REASONS:
        errors.append(
            ServiceError(
                ("input", "reason"),
                E.INVALID,
                f"Reason must be one of {', '.join(sorted(STOCK_REASONS))}.",
            )
        )
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        product = await store.lock_product(uow.session, sku)
        if product is None:
            return _not_found(sku, "input", "sku")
        await lock_pools_in_session(uow.session, product.id)
        known = await uow.session.execute(
            text("SELECT 1 FROM locations WHERE code = :code"), {"code": location}
        )
        if known.first() is None:
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {location!r}.", "input", "location"
            )
        current_row = await uow.session.execute(
            text(
                "SELECT on_hand FROM stock_levels WHERE product_id = :pid AND location_code = :loc"
            ),
            {"pid": product.id, "loc": location},
        )
        current = current_row.scalar_one_or_none() or 0
        new = quantity if quantity is not None else current + (delta or 0)
        if new < 0:
            return Result.fail(
                E.INSUFFICIENT_STOCK,
                f"Only {current} on hand at {location}; cannot remove {-(delta or 0)}.",
                "input",
                "delta",
            )
        if new > MAX_UNITS:
            return Result.fail(
                E.INVALID_QUANTITY,
                f"{current} on hand at {location}; adding {delta} would exceed {MAX_UNITS}.",
                "input",
                "delta",
            )
        await uow.session.execute(
            text(
                "INSERT INTO stock_levels (product_id, location_code, on_hand) "
                "VALUES (:pid, :loc, :qty) ON CONFLICT (product_id, location_code) "
                "DO UPDATE SET on_hand = EXCLUDED.on_hand"
            ),
            {"pid": product.id, "loc": location, "qty": new},
        )
        await uow.session.execute(
            text(
                "INSERT INTO stock_movements (product_id, location_code, delta, on_hand_after, "
                "reason, note, actor) VALUES (:pid, :loc, :delta, :after, :reason, :note, :actor)"
            ),
            {
                "pid": product.id,
                "loc": location,
                "delta": new - current,
                "after": new,
                "reason": reason,
                "note": note,
                "actor": actor.name,
            },
        )
        await settle_in_session(uow.session, services, product.id, "STOCK_CHANGE", actor.name)
        record = await _changed(uow.session, sku)
        await uow.commit()
    return Result(record)


async def set_safety_stock(
    services: Services, actor: Actor, sku: str, quantity: int
) -> Result[SkuRecord]:
    if quantity < 0:
        return Result.fail(E.INVALID_QUANTITY, "Safety stock must be >= 0.", "input", "quantity")
    if too_many := _too_many(quantity, "input", "quantity", what="Safety stock"):
        return Result(errors=[too_many])
    async with services.uow() as uow:
        product = await store.lock_product(uow.session, sku)
        if product is None:
            return _not_found(sku, "input", "sku")
        await uow.session.execute(
            text("UPDATE products SET safety_stock = :q, updated_at = now() WHERE id = :pid"),
            {"q": quantity, "pid": product.id},
        )
        await settle_in_session(uow.session, services, product.id, "STOCK_CHANGE", actor.name)
        await store.record_audit(
            uow.session,
            "product",
            sku,
            "safety_stock.set",
            actor.name,
            {"safetyStock": product.safety_stock},
            {"safetyStock": quantity},
        )
        record = await _changed(uow.session, sku)
        await uow.commit()
    return Result(record)


async def allocate_channel_pool(
    services: Services,
    actor: Actor,
    sku: str,
    channel: str,
    *,
    quantity: int | None = None,
    share_percent: float | None = None,
) -> Result[SkuRecord]:
    """Hold a fixed quantity or a share of READY stock for one channel (0 releases the hold)."""
    if (quantity is None) == (share_percent is None):
        return Result.fail(
            E.INVALID, "Give exactly one of quantity or sharePercent.", "input", "quantity"
        )
    if quantity is not None and quantity < 0:
        return Result.fail(E.INVALID_QUANTITY, "Quantity must be >= 0.", "input", "quantity")
    if too_many := _too_many(quantity, "input", "quantity"):
        return Result(errors=[too_many])
    if share_percent is not None and not 0 <= share_percent <= 100:
        return Result.fail(
            E.INVALID_QUANTITY, "sharePercent must be between 0 and 100.", "input", "sharePercent"
        )
    async with services.uow() as uow:
        product = await store.lock_product(uow.session, sku)
        if product is None:
            return _not_found(sku, "input", "sku")
        known = await uow.session.execute(
            text("SELECT 1 FROM channels WHERE code = :code"), {"code": channel}
        )
        if known.first() is None:
            return Result.fail(E.UNKNOWN_CHANNEL, f"No channel {channel!r}.", "input", "channel")
        before = await _record_in(uow.session, sku)
        current = next(
            (p for p in before.pools if p.kind.value == "CHANNEL" and p.channel == channel), None
        )
        shared_free = max(0, before.snapshot.shared_capacity - before.snapshot.ready_committed)
        own_now = current.capacity or 0 if current else 0
        wanted = (
            quantity
            if quantity is not None
            else int(before.snapshot.sellable * (share_percent or 0) / 100)
        )
        if wanted - own_now > shared_free:
            return Result.fail(
                E.INSUFFICIENT_STOCK,
                f"Only {shared_free} READY units are free to hold for {channel}.",
                "input",
                "quantity" if quantity is not None else "sharePercent",
            )
        await uow.session.execute(
            text(
                "INSERT INTO inventory_pools (product_id, kind, channel_code, capacity, "
                "fixed_quantity, share_percent) VALUES (:pid, 'CHANNEL', :ch, 0, :fixed, :share) "
                "ON CONFLICT ON CONSTRAINT uq_pool_product_kind DO UPDATE SET "
                "fixed_quantity = EXCLUDED.fixed_quantity, share_percent = EXCLUDED.share_percent, "
                "updated_at = now()"
            ),
            {
                "pid": product.id,
                "ch": channel,
                "fixed": quantity,
                "share": _decimal(share_percent),
            },
        )
        await store.recompute_ready(uow.session, product.id)
        await store.record_audit(
            uow.session,
            "product",
            sku,
            "channel_pool.allocated",
            actor.name,
            {"channel": channel, "hold": own_now},
            {"channel": channel, "quantity": quantity, "sharePercent": share_percent},
        )
        record = await _changed(uow.session, sku)
        await uow.commit()
    return Result(record)


def _decimal(value: float | None) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


def _asdict(data: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return dict(asdict(data))


async def pool_page(
    services: Services,
    sku: str | None,
    kind: PoolKind | None,
    limit: int,
    after_id: int | None,
) -> list[store.PoolRef]:
    async with services.engine.connect() as conn:
        return await store.pool_page(conn, sku, kind, limit, after_id)
