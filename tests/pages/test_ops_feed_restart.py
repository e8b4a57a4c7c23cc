"""The ops dashboard's live feed survives a server restart: the page reconnects by itself and
resumes `after` the last event it showed, so an order placed while it was away appears."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from playwright.async_api import expect

from app.services.auth import create_api_key
from app.services.container import Services
from app.settings import Settings
from app.web.app import create_app
from tests.api.placement_helpers import PLACE, order_input, product
from tests.pages.browser import chromium, tab
from tests.process_helpers import free_port
from tests.support import LiveServer, MutableClock

SKU = "RESTART-1"


@contextlib.asynccontextmanager
async def serving(database_url: str, port: int) -> AsyncIterator[Services]:
    """The app on a fixed port (a restart comes back at the same address)."""
    settings = Settings(
        database_url=database_url,
        access_log=False,
        scheduler_seconds=0,
        mail_relay_seconds=0,
        rate_limit_anonymous="",
        rate_limit_key="",
        mail_dir=Path("/nonexistent-mail"),
    )
    app = create_app(settings, database_url, clock=MutableClock())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield app.state.services
    finally:
        server.should_exit = True
        await task


async def test_the_feed_shows_an_order_placed_while_the_server_was_restarting(
    server: LiveServer, database_url: str
) -> None:
    await product(server, SKU, f'setStock(input: {{sku: "{SKU}", location: "main", quantity: 9}})')
    port = free_port()
    async with chromium() as browser, tab(browser) as t:
        async with serving(database_url, port) as services:
            key = (await create_api_key(services, "restart-ops", ["ops"])).key
            await t.page.goto(f"http://127.0.0.1:{port}/ops")
            await t.page.fill("#key", key)
            await t.page.click("#login-form button")
            await expect(t.page.locator("#live")).to_have_text("live")
            first = await server.gql(PLACE, {"input": order_input([{"sku": SKU, "quantity": 1}])})
            await expect(t.page.locator("#feed")).to_contain_text(
                first.data["placeOrder"]["order"]["number"]
            )
            count = t.page.locator("#tab-READY .count")
            await expect(count).to_have_text("1")
        await expect(t.page.locator("#live")).to_have_text("reconnecting")

        # while the page's server is down, another replica takes an order
        placed = await server.gql(PLACE, {"input": order_input([{"sku": SKU, "quantity": 1}])})
        number = placed.data["placeOrder"]["order"]["number"]

        async with serving(database_url, port):
            await expect(t.page.locator("#live")).to_have_text("live", timeout=15_000)
            await expect(t.page.locator("#feed")).to_contain_text(number)
            await expect(count).to_have_text("2")
            await t.screenshot("ops-after-restart")
        # the only console errors: the browser's own reports of the refused reconnection
        # attempts while the server was down
        unexpected = [e for e in t.console_errors if "ERR_CONNECTION_REFUSED" not in e]
        assert unexpected == []
