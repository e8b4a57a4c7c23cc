"""The ops dashboard in Chromium: its tab counts follow orders placed elsewhere, a KPI tile
shows the seeded figure, and the forecast flags a SKU whose demand outruns its cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.api.placement_helpers import placed, product
from tests.pages.browser import Tab, chromium, tab
from tests.support import LiveServer

READY = "OPS-READY"
PREORDER = "OPS-PRE"
HOT = "OPS-HOT"  # a pre-order selling a unit a day with 2 left under its cap


@pytest_asyncio.fixture(scope="module")
async def browser(server: LiveServer) -> AsyncIterator[Browser]:
    await product(
        server, READY, f'setStock(input: {{sku: "{READY}", location: "main", quantity: 50}})'
    )
    for sku, cap in ((PREORDER, 100), (HOT, 12)):
        await product(
            server,
            sku,
            f'configurePreorder(input: {{sku: "{sku}", enabled: true, '
            f'releaseDate: "2031-07-01", cap: {cap}, paymentTerms: {{kind: AUTHORIZE}}}})',
        )
    # seeded sales: 3 READY units, 1 PRE-ORDER unit (the pre-order share is 25 %), and ten
    # orders of HOT, one a day over the last ten days
    await placed(server, [{"sku": READY, "quantity": 3}])
    await placed(server, [{"sku": PREORDER, "quantity": 1}])
    for days_ago in range(1, 11):
        order = await placed(
            server, [{"sku": HOT, "quantity": 1}], email=f"hot{days_ago}@example.com"
        )
        await server.sql(
            "UPDATE orders SET placed_at = $2 WHERE number = $1",
            order["number"],
            server.clock() - timedelta(days=days_ago),
        )
    result = await server.gql(
        "mutation { runScheduledJob(input: {job: FORECAST_DEMAND}) { ran result } }"
    )
    assert result.data["runScheduledJob"]["ran"], result
    async with chromium() as browser:
        yield browser


async def logged_in(t: Tab, server: LiveServer) -> None:
    await t.page.goto(f"{server.base_url}/ops")
    await t.page.fill("#key", server.ops_key)
    await t.page.click("#login-form button")
    await expect(t.page.locator("#live")).to_have_text("live")


async def test_a_kpi_tile_shows_the_pre_order_share_of_the_seeded_sales(
    server: LiveServer, browser: Browser
) -> None:
    # seeded: 3 READY units, 1 + 10 PRE-ORDER units: 11 of 14 units, 78.6 %
    async with tab(browser, "phone") as t:
        await logged_in(t, server)
        tile = t.page.locator("#kpi-preorder-share")
        await expect(tile.locator(".value")).to_have_text("78.6 %")
        await expect(tile).to_contain_text("target > 15 %")
        await expect(tile).to_contain_text("11 of 14 units")
        await expect(tile).to_have_class("tile ok")
        await t.screenshot("ops-phone")
        await t.fits_its_width()
        assert t.console_errors == []


async def test_the_ops_tab_counts_change_when_an_order_is_placed_elsewhere(
    server: LiveServer, browser: Browser
) -> None:
    async with tab(browser) as t:
        await logged_in(t, server)
        count = t.page.locator("#tab-PRE_ORDER .count")
        await expect(count).to_have_text("11")  # one PREORDER order, ten HOT ones
        await expect(t.page.locator("#tab-READY .count")).to_have_text("1")

        await placed(server, [{"sku": PREORDER, "quantity": 1}], email="elsewhere@example.com")

        await expect(count).to_have_text("12", timeout=10_000)
        await expect(t.page.locator("#feed")).to_contain_text("order placed")
        await expect(t.page.locator("#orders-table")).to_contain_text(PREORDER)
        # the KPI tiles follow too: 12 of 15 units are pre-orders now
        await expect(t.page.locator("#kpi-preorder-share .value")).to_have_text("80.0 %")
        await t.screenshot("ops-desktop")
        await t.fits_its_width()
        assert t.console_errors == []


async def test_the_forecast_flags_a_sku_whose_demand_outruns_its_cap(
    server: LiveServer, browser: Browser
) -> None:
    async with tab(browser) as t:
        await logged_in(t, server)
        row = t.page.locator(f'#forecast-table tr[data-sku="{HOT}"]')
        await expect(row).to_contain_text("over the cap: raise the PO?")
        # a unit a day for four weeks (28) against 2 left under the cap
        await expect(row.locator("td").nth(1)).to_have_text("28")
        await expect(row.locator("td").nth(2)).to_have_text("2")
        await expect(t.page.locator("#chart canvas")).to_have_count(1)
        await t.page.locator("#chart").scroll_into_view_if_needed()
        await t.screenshot("ops-forecast-desktop")
        assert t.console_errors == []
