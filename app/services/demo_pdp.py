"""The PDP demo page's storefront key: with the demo data and no OMS_DEMO_STOREFRONT_KEY,
``serve`` makes one (storefront scope only, expiring in a day) so that ordering from
/demo/pdp/{sku} works end to end. Each start makes a new one; the old ones expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services import policy
from app.services.auth import authenticate, create_api_key
from app.services.container import Services
from app.settings import Settings
from app.storage.readpool import create_read_pool

DEMO_KEY_NAME = "demo-pdp"
DEMO_KEY_DAYS = 1


async def create_demo_storefront_key_at(url: str, settings: Settings) -> str:
    read_pool = await create_read_pool(url, 1)
    write_pool = await create_read_pool(url, 1, name="preorder-oms-demo-key")
    try:
        services = Services(settings, read_pool=read_pool, write_pool=write_pool)
        expires = datetime.now(UTC) + timedelta(days=DEMO_KEY_DAYS)
        return (await create_api_key(services, DEMO_KEY_NAME, ["storefront"], expires)).key
    finally:
        await read_pool.close()
        await write_pool.close()


async def key_for_page(services: Services) -> str | None:
    """The configured demo key when a browser may see it: it authenticates and may place
    orders, and it is not an ops key (then the page only shows availability)."""
    secret = services.settings.demo_storefront_key
    if secret is None:
        return None
    key = secret.get_secret_value()
    actor = await authenticate(services, key)
    if actor is None or policy.is_ops(actor) or not policy.may_place_orders(actor):
        return None
    return key
