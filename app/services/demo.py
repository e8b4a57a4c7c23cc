"""The demo data set: a few products in each availability state. Loading it twice is a no-op."""

from __future__ import annotations

from datetime import date, timedelta

from app.domain.availability import PaymentTerms
from app.services import inventory
from app.services.container import Services
from app.services.inventory import BackorderInput, PaymentInput, PreorderInput, ProductInput
from app.services.orders.placement import LineInput, PlaceOrderInput, place_order
from app.services.results import SYSTEM
from app.services.scheduler import promise_new_lines
from app.services.supply import (
    ProductionRunInput,
    PurchaseOrderInput,
    create_purchase_order,
    schedule_production_run,
)
from app.settings import Settings
from app.storage import orders as order_store
from app.storage import reference as reference_store
from app.storage import supply as supply_store
from app.storage.readpool import create_read_pool

CHANNELS = [
    ("webstore", "Webstore", "WEBSTORE", 24, False),
    ("marketplace", "Marketplace", "MARKETPLACE", 48, False),
    ("pos", "Shop tills", "POS", 0, False),
    ("b2b", "Wholesale", "B2B", 72, True),
]
REGIONS = [
    ("EU", "European Union", 2, 4, True),
    ("UK", "United Kingdom", 3, 6, False),
    ("US", "United States", 5, 9, False),
]
LOCATIONS = [("main", "Main warehouse"), ("store-1", "Flagship store")]
CARRIER_SERVICES = [
    ("EU", "EXPRESS", "Express", 1, 2),
    ("UK", "EXPRESS", "Express", 1, 3),
    ("US", "EXPRESS", "Express", 2, 4),
    ("US", "ECONOMY", "Economy", 7, 14),
]


async def load_reference_data(services: Services) -> None:
    """Channels, regions and locations of the demo store (inserted when missing)."""
    async with services.uow() as uow:
        await reference_store.insert_missing(
            uow.conn, CHANNELS, REGIONS, LOCATIONS, CARRIER_SERVICES
        )
        await uow.commit()
    services.cache.clear()


async def load_demo_data(services: Services) -> dict[str, int]:
    """Reference data and demo products (created once, by SKU: a second load changes nothing)."""
    await load_reference_data(services)
    today = services.today()
    created = 0

    async def product(data: ProductInput) -> bool:
        nonlocal created
        result = await inventory.create_product(services, SYSTEM, data)
        if result.ok:
            created += 1
        return result.ok

    async def stock(sku: str, location: str, quantity: int) -> None:
        await inventory.change_stock(
            services, SYSTEM, sku, location, quantity=quantity, reason="COUNT", note="demo data"
        )

    # READY stock
    if await product(
        ProductInput("TEE-BLK-M", "Classic Tee, black, M", "Classic Tee", price_minor=2500)
    ):
        await stock("TEE-BLK-M", "main", 120)
        await stock("TEE-BLK-M", "store-1", 15)
        await inventory.set_safety_stock(services, SYSTEM, "TEE-BLK-M", 5)
        await inventory.allocate_channel_pool(
            services, SYSTEM, "TEE-BLK-M", "marketplace", quantity=20
        )
    if await product(ProductInput("TOTE-NAT", "Canvas tote, natural", price_minor=1800)):
        await stock("TOTE-NAT", "main", 40)
    if await product(ProductInput("MUG-WHT", "Stoneware mug, white", price_minor=1400)):
        await stock("MUG-WHT", "main", 3)
        await inventory.configure_backorder(
            services, SYSTEM, BackorderInput("MUG-WHT", allowed=True, cap=100)
        )
    # PRE_ORDER
    if await product(
        ProductInput(
            "AURORA-HP",
            "Aurora wireless headphones",
            tags=("PREORDER",),
            price_minor=19900,
        )
    ):
        await inventory.configure_preorder(
            services,
            SYSTEM,
            PreorderInput(
                "AURORA-HP",
                enabled=True,
                release_date=today + timedelta(days=45),
                cap=500,
                message="Ships from {date}",
                payment=PaymentInput(PaymentTerms.DEPOSIT, deposit_percent=20),
            ),
        )
    if await product(
        ProductInput(
            "NEBULA-LTD",
            "Nebula console, limited edition",
            tags=("PREORDER", "LIMITED_RUN"),
            price_minor=49900,
        )
    ):
        await inventory.configure_preorder(
            services,
            SYSTEM,
            PreorderInput(
                "NEBULA-LTD",
                enabled=True,
                release_date=today + timedelta(days=30),
                cap=100,
                message="Limited run: ships from {date}",
                payment=PaymentInput(PaymentTerms.AUTHORIZE),
            ),
        )
        await inventory.configure_backorder(
            services, SYSTEM, BackorderInput("NEBULA-LTD", allowed=False)
        )
    # BACKORDER
    if await product(
        ProductInput("TRAIL-42", "Trail runner, EU 42", family="Trail runner", price_minor=12900)
    ):
        await inventory.configure_backorder(
            services,
            SYSTEM,
            BackorderInput("TRAIL-42", allowed=True, cap=200, message="Back in stock soon"),
        )
    if await product(ProductInput("DESK-LAMP", "Brass desk lamp", price_minor=8900)):
        await inventory.configure_backorder(
            services,
            SYSTEM,
            BackorderInput(
                "DESK-LAMP",
                allowed=True,
                cap=None,
                payment=PaymentInput(PaymentTerms.DEPOSIT, deposit_minor=2000),
            ),
        )
    # SOLD_OUT
    if await product(ProductInput("JACKET-VTG", "Vintage denim jacket", price_minor=15900)):
        await stock("JACKET-VTG", "main", 0)
    if await product(
        ProductInput(
            "POSTER-ED1",
            "Signed poster, first edition",
            tags=("LIMITED_RUN",),
            price_minor=4500,
            safety_stock=2,
        )
    ):
        # two left, both kept back as safety stock: nothing can be sold
        await stock("POSTER-ED1", "main", 2)
    orders_placed = await _demo_orders(services)
    supply_created = await _demo_supply(services)
    # the waiting demo lines get their first promise now rather than at the first job run
    await promise_new_lines(services, SYSTEM)
    return {
        "products_created": created,
        "orders_placed": orders_placed,
        "supply_created": supply_created,
    }


def _demo_purchase_orders(today: date) -> list[PurchaseOrderInput]:
    return [
        PurchaseOrderInput(
            "AURORA-HP",
            300,
            "main",
            "SHENZHEN-AUDIO",
            "Shenzhen Audio Ltd",
            60,
            today + timedelta(days=40),
            "DEMO-PO-AURORA-1",
        ),
        PurchaseOrderInput(
            "TRAIL-42",
            50,
            "main",
            "TRAILCO",
            "TrailCo Footwear",
            21,
            today + timedelta(days=14),
            "DEMO-PO-TRAIL-1",
        ),
        PurchaseOrderInput(
            "DESK-LAMP",
            20,
            "main",
            "BRASSWORKS",
            "Brassworks",
            30,
            today + timedelta(days=21),
            "DEMO-PO-LAMP-1",
        ),
        PurchaseOrderInput(
            "MUG-WHT",
            60,
            "main",
            "POTTERY-CO",
            "The Pottery Co",
            10,
            today + timedelta(days=7),
            "DEMO-PO-MUG-1",
        ),
    ]


async def _demo_supply(services: Services) -> int:
    """Open purchase orders and a production run, so waiting lines have dated promises.
    Created once, by reference."""
    today = services.today()
    created = 0

    async def exists(reference: str) -> bool:
        async with services.read() as conn:
            return await supply_store.exists_with_reference(conn, reference)

    for po in _demo_purchase_orders(today):
        if po.reference and not await exists(po.reference):
            created += 1 if (await create_purchase_order(services, SYSTEM, po)).ok else 0
    run = ProductionRunInput(
        "NEBULA-LTD", today + timedelta(days=10), 10, 10, "main", "DEMO-RUN-NEBULA-1"
    )
    if not await exists("DEMO-RUN-NEBULA-1"):
        created += 1 if (await schedule_production_run(services, SYSTEM, run)).ok else 0
    return created


DEMO_ORDERS = [
    ("demo-1", "webstore", "ada@example.com", "Ada Lovelace", "EU", [("TEE-BLK-M", 2)]),
    ("demo-2", "marketplace", "alan@example.com", "Alan Turing", "UK", [("TEE-BLK-M", 1)]),
    ("demo-3", "webstore", "grace@example.com", "Grace Hopper", "US", [("AURORA-HP", 1)]),
    ("demo-4", "webstore", "edsger@example.com", "Edsger Dijkstra", "EU", [("NEBULA-LTD", 2)]),
    (
        "demo-5",
        "webstore",
        "barbara@example.com",
        "Barbara Liskov",
        "EU",
        [("MUG-WHT", 5), ("TOTE-NAT", 1)],
    ),
    ("demo-6", "pos", "ken@example.com", "Ken Thompson", "EU", [("TRAIL-42", 1)]),
    ("demo-7", "b2b", "buyer@example.com", "Wholesale buyer", "EU", [("DESK-LAMP", 4)]),
]


async def _demo_orders(services: Services) -> int:
    """Orders in every state. Placed once: a key that was ever used is never placed again,
    even after its idempotency window has passed."""
    placed = 0
    for key, channel, email, name, region, lines in DEMO_ORDERS:
        async with services.read() as conn:
            if await order_store.placed_with_key(conn, key):
                continue
        result = await place_order(
            services,
            SYSTEM,
            PlaceOrderInput(
                idempotency_key=key,
                channel=channel,
                customer_email=email,
                customer_name=name,
                region=region,
                lines=tuple(LineInput(sku, qty) for sku, qty in lines),
            ),
        )
        if result.value is not None and not result.value.replayed:
            placed += 1
    return placed


async def load_demo_data_at(url: str, settings: Settings) -> dict[str, int]:
    read_pool = await create_read_pool(url, 2)
    write_pool = await create_read_pool(url, 2, name="preorder-oms-demo")
    try:
        return await load_demo_data(Services(settings, read_pool=read_pool, write_pool=write_pool))
    finally:
        await read_pool.close()
        await write_pool.close()
