"""Catalog and inventory administration: products, policies, stock, safety stock, channel holds.

Each function is one use case in one transaction: it validates, locks the product row, then
(where stock or holds change) the SKU's pool rows, writes, records the change in the event
ledger and commits; or it returns typed errors and changes nothing. A change that frees stock
ends with ``settle``: waiting lines are served before anything re-opens for sale.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from app.domain.availability import MAX_UNITS, PaymentTerms, PoolKind
from app.domain.dates import date_problem
from app.domain.estimates import PromiseCause
from app.domain.events import EventKind, sku_event
from app.domain.text import MAX_CODE, json_problem, text_problem
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import CatalogErrorCode as E
from app.services.results import Actor, Result, ServiceError, refusals
from app.storage import catalog as catalog_store
from app.storage import inventory as store
from app.storage import ledger
from app.storage import reference as reference_store
from app.storage.allocation import last_served, lock_pools, unallocate
from app.storage.inventory import SkuRecord, fetch_records, iso
from app.storage.notify import notify_inventory_changed

STOCK_REASONS = frozenset(
    {"COUNT", "RECEIPT", "DAMAGE", "LOSS", "RETURN", "CORRECTION", "TRANSFER", "SHIPMENT"}
)


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
    deposit_currency: str | None = None  # must be the product's


def _check_deposit_currency(payment: PaymentInput, product: Any) -> Result[SkuRecord] | None:
    if payment.deposit_currency is None or payment.deposit_currency == product["currency"]:
        return None
    return Result.fail(
        E.CURRENCY_MISMATCH,
        f"The deposit must be in the product's currency, {product['currency']}.",
        "input",
        "paymentTerms",
        "depositAmount",
        "currency",
    )


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


async def _changed(conn: asyncpg.Connection, product_id: uuid.UUID, sku: str) -> SkuRecord:
    """End of every inventory write: tell all replicas (at commit) and return the new state."""
    await notify_inventory_changed(conn, [product_id])
    return (await fetch_records(conn, [sku]))[sku]


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
                    "A DEPOSIT needs exactly one of depositPercent or depositAmount.",
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
                    (*where, "depositAmount", "amountMinor"),
                    E.INVALID_PAYMENT_TERMS,
                    "depositAmount must be positive.",
                )
            )
    elif payment.deposit_percent is not None or payment.deposit_minor is not None:
        errors.append(
            ServiceError(
                where, E.INVALID_PAYMENT_TERMS, "Deposit amounts apply only to DEPOSIT terms."
            )
        )
    return errors


def _release_date_errors(value: date | None, today: date) -> list[ServiceError]:
    """A release date within the planning horizon (``app.domain.dates``)."""
    problem = None if value is None else date_problem(value, today, what="The release date")
    return [ServiceError(("input", "releaseDate"), E.INVALID_DATE, problem)] if problem else []


async def create_product(services: Services, actor: Actor, data: ProductInput) -> Result[SkuRecord]:
    errors = refusals(
        E.INVALID,
        [
            (("input", "sku"), text_problem(data.sku, MAX_CODE, required=True, one_line=True)),
            (("input", "name"), text_problem(data.name, required=True, one_line=True)),
            (("input", "family"), text_problem(data.family, one_line=True)),
            (("input", "description"), text_problem(data.description)),
            *(
                (("input", "tags", str(i)), text_problem(tag, MAX_CODE, one_line=True))
                for i, tag in enumerate(data.tags)
            ),
            (("input", "options"), json_problem(data.options)),
        ],
    )
    if data.price_minor < 0:
        errors.append(
            ServiceError(
                ("input", "price", "amountMinor"), E.INVALID, "Price must not be negative."
            )
        )
    if len(data.currency) != 3 or not data.currency.isalpha():
        errors.append(
            ServiceError(("input", "price", "currency"), E.INVALID, "Currency is an ISO 4217 code.")
        )
    if data.safety_stock < 0:
        errors.append(
            ServiceError(("input", "safetyStock"), E.INVALID_QUANTITY, "Safety stock must be >= 0.")
        )
    elif too_many := _too_many(data.safety_stock, "input", "safetyStock", what="Safety stock"):
        errors.append(too_many)
    errors += _release_date_errors(data.release_date, services.today())
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        product_id = await catalog_store.insert_product(
            conn,
            sku=data.sku,
            name=data.name,
            family=data.family,
            description=data.description,
            tags=sorted({t.strip() for t in data.tags if t.strip()}),
            options=data.options,
            price_minor=data.price_minor,
            currency=data.currency.upper(),
            release_date=data.release_date,
            safety_stock=data.safety_stock,
        )
        if product_id is None:
            return Result.fail(E.DUPLICATE_SKU, f"SKU {data.sku!r} already exists.", "input", "sku")
        await store.create_pools(conn, product_id)
        await store.recompute_ready(conn, product_id)
        await ledger.append(
            conn,
            [sku_event(EventKind.PRODUCT_CREATED, product_id, data.sku, actor.name, asdict(data))],
        )
        record = await _changed(conn, product_id, data.sku)
        await uow.commit()
    return Result(record)


async def configure_preorder(
    services: Services, actor: Actor, data: PreorderInput
) -> Result[SkuRecord]:
    errors = (
        _check_payment(data.payment, "input")
        + _check_cap(data.cap)
        + refusals(E.INVALID, [(("input", "message"), text_problem(data.message))])
        + _release_date_errors(data.release_date, services.today())
    )
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        product = await catalog_store.lock_product(conn, data.sku)
        if product is None:
            return _not_found(data.sku, "input", "sku")
        if mismatch := _check_deposit_currency(data.payment, product):
            return mismatch
        committed = await store.set_pool_cap(conn, product["id"], PoolKind.PRE_ORDER, data.cap)
        if committed is not None:
            return Result.fail(
                E.CAP_BELOW_COMMITTED,
                f"{committed} pre-order units are already committed; the cap cannot go below that.",
                "input",
                "cap",
            )
        await catalog_store.set_preorder_policy(
            conn,
            product["id"],
            enabled=data.enabled,
            release_date=data.release_date,
            message=data.message,
            terms=data.payment.terms.value,
            deposit_percent=_decimal(data.payment.deposit_percent),
            deposit_minor=data.payment.deposit_minor,
            today=services.today(),
        )
        before = {
            "enabled": product["preorder_enabled"],
            "releaseDate": iso(product["release_date"]),
            "message": product["preorder_message"],
            "payment": product["preorder_payment"],
        }
        await ledger.append(
            conn,
            [
                sku_event(
                    EventKind.PREORDER_CONFIGURED,
                    product["id"],
                    data.sku,
                    actor.name,
                    asdict(data),
                    before,
                )
            ],
        )
        record = await _changed(conn, product["id"], data.sku)
        await uow.commit()
    return Result(record)


async def configure_backorder(
    services: Services, actor: Actor, data: BackorderInput
) -> Result[SkuRecord]:
    errors = (
        _check_payment(data.payment, "input")
        + _check_cap(data.cap)
        + refusals(E.INVALID, [(("input", "message"), text_problem(data.message))])
    )
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        conn = uow.conn
        product = await catalog_store.lock_product(conn, data.sku)
        if product is None:
            return _not_found(data.sku, "input", "sku")
        if mismatch := _check_deposit_currency(data.payment, product):
            return mismatch
        committed = await store.set_pool_cap(conn, product["id"], PoolKind.BACKORDER, data.cap)
        if committed is not None:
            return Result.fail(
                E.CAP_BELOW_COMMITTED,
                f"{committed} backorder units are already waiting; the cap cannot go below that.",
                "input",
                "cap",
            )
        await catalog_store.set_backorder_policy(
            conn,
            product["id"],
            allowed=data.allowed,
            message=data.message,
            terms=data.payment.terms.value,
            deposit_percent=_decimal(data.payment.deposit_percent),
            deposit_minor=data.payment.deposit_minor,
        )
        before = {
            "allowed": product["backorder_allowed"],
            "message": product["backorder_message"],
            "payment": product["backorder_payment"],
        }
        await ledger.append(
            conn,
            [
                sku_event(
                    EventKind.BACKORDER_CONFIGURED,
                    product["id"],
                    data.sku,
                    actor.name,
                    asdict(data),
                    before,
                )
            ],
        )
        record = await _changed(conn, product["id"], data.sku)
        await uow.commit()
    return Result(record)


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
    release_reserved: bool = False,
) -> Result[SkuRecord]:
    """``setStock`` (absolute ``quantity``, e.g. a count) or ``adjustStock`` (``delta``).

    On hand never drops below the units ring-fenced for waiting lines (RESERVED): that is
    ``BELOW_RESERVED``, unless ``release_reserved`` says what happens to those lines. Then the
    lines served last give their units back (whole lines, last in the queue first, until
    enough are free) and keep their place at the head of the queue: ``settle`` serves them
    again, FIFO, from what is left, and re-promises them, in this transaction and under the
    SKU's pool locks (as a pause or a cancellation hands units back)."""
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
    if note_problem := text_problem(note):
        errors.append(ServiceError(("input", "note"), E.INVALID, note_problem))
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
        conn = uow.conn
        product = await catalog_store.lock_product(conn, sku)
        if product is None:
            return _not_found(sku, "input", "sku")
        # pool rows before stock rows: dispatch takes them in that order too
        await lock_pools(conn, [product["id"]])
        if not await reference_store.location_exists(conn, location):
            return Result.fail(
                E.UNKNOWN_LOCATION, f"No location {location!r}.", "input", "location"
            )
        current = await store.on_hand_at(conn, product["id"], location)
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
        on_hand, reserved = await store.on_hand_and_reserved(conn, product["id"])
        short = reserved - (on_hand - current + new)
        if short > 0 and not release_reserved:
            return Result.fail(
                E.BELOW_RESERVED,
                f"{reserved} units are ring-fenced for waiting orders; on hand would be "
                f"{on_hand - current + new}. Give releaseReserved: true to take {short} back "
                "from the lines served last (they keep their place in the queue).",
                "input",
                "delta" if delta is not None else "quantity",
            )
        if short > 0:
            lines = await last_served(conn, product["id"], short)
            await unallocate(conn, lines, PromiseCause.STOCK_CHANGE, actor.name)
        await store.set_on_hand(conn, product["id"], location, new)
        await ledger.append(
            conn,
            [ledger.stock_movement(sku, location, new - current, new, reason, note, actor.name)],
        )
        await settle(conn, services, [product["id"]], PromiseCause.STOCK_CHANGE, actor.name)
        record = await _changed(conn, product["id"], sku)
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
        conn = uow.conn
        product = await catalog_store.lock_product(conn, sku)
        if product is None:
            return _not_found(sku, "input", "sku")
        await lock_pools(conn, [product["id"]])
        await catalog_store.set_safety_stock(conn, product["id"], quantity)
        await settle(conn, services, [product["id"]], PromiseCause.STOCK_CHANGE, actor.name)
        await ledger.append(
            conn,
            [
                sku_event(
                    EventKind.SAFETY_STOCK_SET,
                    product["id"],
                    sku,
                    actor.name,
                    {"safetyStock": quantity},
                    {"safetyStock": product["safety_stock"]},
                )
            ],
        )
        record = await _changed(conn, product["id"], sku)
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
        conn = uow.conn
        product = await catalog_store.lock_product(conn, sku)
        if product is None:
            return _not_found(sku, "input", "sku")
        if not await reference_store.channel_exists(conn, channel):
            return Result.fail(E.UNKNOWN_CHANNEL, f"No channel {channel!r}.", "input", "channel")
        before = (await fetch_records(conn, [sku]))[sku]
        current = next(
            (p for p in before.pools if p.kind is PoolKind.CHANNEL and p.channel == channel), None
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
        await store.set_channel_hold(
            conn, product["id"], channel, quantity, _decimal(share_percent)
        )
        await store.recompute_ready(conn, product["id"])
        await ledger.append(
            conn,
            [
                sku_event(
                    EventKind.CHANNEL_POOL_ALLOCATED,
                    product["id"],
                    sku,
                    actor.name,
                    {"channel": channel, "quantity": quantity, "sharePercent": share_percent},
                    {"channel": channel, "hold": own_now},
                )
            ],
        )
        record = await _changed(conn, product["id"], sku)
        await uow.commit()
    return Result(record)


def _decimal(value: float | None) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


async def pool_page(
    services: Services,
    sku: str | None,
    kind: PoolKind | None,
    limit: int,
    after_id: int | None,
) -> list[store.PoolRef]:
    async with services.read() as conn:
        return await store.pool_page(conn, sku, kind, limit, after_id)


async def count_pools(services: Services, sku: str | None, kind: PoolKind | None) -> int:
    async with services.read() as conn:
        return await store.count_pools(conn, sku, kind)
