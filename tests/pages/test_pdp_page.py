"""The PDP demo page in Chromium: its button follows availabilityChanged live, and ordering
from it shows the customer's place in line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from playwright.async_api import Browser, expect
from pydantic import SecretStr

from tests.api.placement_helpers import placed, product
from tests.pages.browser import chromium, tab
from tests.support import LiveServer

PREORDER_LAST_UNIT = "PDP-LAST"
BACKORDER = "PDP-BACK"


@pytest_asyncio.fixture(scope="module")
async def browser(server: LiveServer) -> AsyncIterator[Browser]:
    # the page orders with a storefront key (OMS_DEMO_STOREFRONT_KEY), never an ops key
    key = await server.key_with("storefront")
    server.services.settings.demo_storefront_key = SecretStr(key)
    await product(
        server,
        PREORDER_LAST_UNIT,
        f'configurePreorder(input: {{sku: "{PREORDER_LAST_UNIT}", enabled: true, '
        'releaseDate: "2031-07-01", cap: 2, paymentTerms: {kind: DEPOSIT, depositPercent: 25}})',
    )
    due = (server.clock() + timedelta(days=10)).date().isoformat()
    await product(
        server,
        BACKORDER,
        f'setStock(input: {{sku: "{BACKORDER}", location: "main", quantity: 0}})',
        f'configureBackorder(input: {{sku: "{BACKORDER}", allowed: true}})',
        f'createPurchaseOrder(input: {{sku: "{BACKORDER}", quantity: 20, location: "main", '
        f'expectedOn: "{due}", supplier: {{code: "PDP-SUP"}}}})',
    )
    async with chromium() as browser:
        yield browser


async def test_the_pdp_button_turns_from_pre_order_to_sold_out_when_another_client_buys_the_last_unit(
    server: LiveServer, browser: Browser
) -> None:
    await placed(server, [{"sku": PREORDER_LAST_UNIT, "quantity": 1}])  # one of two left
    async with tab(browser) as t:
        await t.page.goto(f"{server.base_url}/demo/pdp/{PREORDER_LAST_UNIT}")
        button = t.page.locator("#buy")
        await expect(button).to_have_text("Pre-order")
        await expect(button).to_be_enabled()
        await expect(t.page.locator("#cap")).to_have_text("1")
        await expect(t.page.locator("#terms")).to_contain_text("25")
        await t.screenshot("pdp-pre-order-desktop")

        await placed(
            server, [{"sku": PREORDER_LAST_UNIT, "quantity": 1}], email="other@example.com"
        )

        await expect(button).to_have_text("Sold out", timeout=10_000)
        await expect(button).to_be_disabled()
        await t.screenshot("pdp-sold-out-desktop")
        await t.fits_its_width()
        assert t.console_errors == []


async def test_a_backorder_page_shows_the_window_then_the_place_in_line_after_ordering(
    server: LiveServer, browser: Browser
) -> None:
    await placed(server, [{"sku": BACKORDER, "quantity": 1}], email="first@example.com")
    for width in ("phone", "desktop"):
        async with tab(browser, width) as t:
            await t.page.goto(f"{server.base_url}/demo/pdp/{BACKORDER}")
            button = t.page.locator("#buy")
            await expect(button).to_have_text("Backorder")
            # the window from the purchase order: "<earliest> - <latest>" (an en dash)
            await expect(t.page.locator("#window")).to_have_text(re.compile(r"\d{4} \u2013 \w"))
            await t.screenshot(f"pdp-backorder-{width}")
            await t.fits_its_width()
            if width == "desktop":
                await button.click()
                await expect(t.page.locator("#placed")).to_be_visible()
                await expect(t.page.locator("#order-lines")).to_contain_text("number 2 in line")
                await t.screenshot("pdp-backorder-ordered-desktop")
            assert t.console_errors == []
