"""The ops dashboard's queries: KPIs by set-based SQL, forecasts from the FORECAST_DEMAND job
(cached), ops only; and the pages' HTTP answers (headers, no ops key on the PDP)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from tests.api.placement_helpers import placed, product
from tests.support import LiveServer

KPIS = """{ opsKpis { unitsSold preorderUnits preorderSharePercent preorderShareMeetsTarget
  confirmedOrders latencyP50Seconds latencyP99Seconds slaBreaches
  sellThrough { sku cap committed percent } } }"""
FORECASTS = """query($sku: String) { demandForecasts(sku: $sku) { sku method forecastUnits
  capRemaining openSupply waitingUnits flag forecastStart history { date preOrder } } }"""


async def test_only_ops_keys_read_the_kpis_and_forecasts(server: LiveServer) -> None:
    storefront = await server.key_with("storefront")
    channel = await server.key_with("channel:webstore")
    for query in (KPIS, "{ demandForecasts { sku } }"):
        anonymous = await server.gql(query, anonymous=True)
        assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        for key in (storefront, channel):
            refused = await server.gql(query, key=key)
            assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_kpis_count_pre_order_units_latency_and_sell_through_of_placed_orders(
    server: LiveServer,
) -> None:
    await product(server, "KPI-R", 'setStock(input: {sku: "KPI-R", location: "main", quantity: 9})')
    await product(
        server,
        "KPI-P",
        'configurePreorder(input: {sku: "KPI-P", enabled: true, releaseDate: "2031-07-01", '
        "cap: 8, paymentTerms: {kind: AUTHORIZE}})",
    )
    before = (await server.gql(KPIS)).data["opsKpis"]
    await placed(server, [{"sku": "KPI-R", "quantity": 3}, {"sku": "KPI-P", "quantity": 2}])
    after = (await server.gql(KPIS)).data["opsKpis"]
    assert after["unitsSold"] - before["unitsSold"] == 5
    assert after["preorderUnits"] - before["preorderUnits"] == 2
    assert after["confirmedOrders"] == before["confirmedOrders"] + 1
    assert after["latencyP50Seconds"] is not None
    assert {"sku": "KPI-P", "cap": 8, "committed": 2, "percent": 25.0} in after["sellThrough"]


async def test_the_forecast_job_caches_a_flag_for_a_pre_order_selling_past_its_cap(
    server: LiveServer,
) -> None:
    await product(
        server,
        "FC-HOT",
        'configurePreorder(input: {sku: "FC-HOT", enabled: true, releaseDate: "2031-07-01", '
        "cap: 12, paymentTerms: {kind: AUTHORIZE}})",
    )
    for days_ago in range(1, 11):
        order = await placed(server, [{"sku": "FC-HOT", "quantity": 1}], email=f"f{days_ago}@x.io")
        await server.sql(
            "UPDATE orders SET placed_at = $2 WHERE number = $1",
            order["number"],
            server.clock() - timedelta(days=days_ago),
        )
    assert (await server.gql(FORECASTS, {"sku": "FC-HOT"})).data["demandForecasts"] == []

    ran = await server.gql("mutation { runScheduledJob(input: {job: FORECAST_DEMAND}) { ran } }")
    assert ran.data["runScheduledJob"]["ran"]

    [forecast] = (await server.gql(FORECASTS, {"sku": "FC-HOT"})).data["demandForecasts"]
    assert forecast["flag"] == "OVER_CAP"
    assert forecast["capRemaining"] == 2
    assert forecast["waitingUnits"] == 10
    assert 26 <= forecast["forecastUnits"] <= 30
    assert sum(d["preOrder"] for d in forecast["history"]) == 10
    assert forecast["forecastStart"] == server.clock().date().isoformat()


async def test_the_pages_answer_with_a_strict_content_security_policy(server: LiveServer) -> None:
    for path in ("/", "/ops", "/demo/pdp/AURORA-HP"):
        response = await server.client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
    assert (await server.client.get("/assets/vendor/uPlot.iife.min.js")).status_code == 200
    assert (await server.client.get("/demo/pdp/<script>")).status_code == 404
    home = (await server.client.get("/")).text
    for link in ('href="/ops"', 'href="/graphql"', 'href="/demo/pdp/'):
        assert link in home


async def test_the_pdp_page_never_shows_an_ops_key(server: LiveServer) -> None:
    settings = server.services.settings
    try:
        settings.demo_storefront_key = SecretStr(server.ops_key)
        page = (await server.client.get("/demo/pdp/AURORA-HP")).text
        assert server.ops_key not in page
        assert 'data-storefront-key=""' in page
        storefront = await server.key_with("storefront")
        settings.demo_storefront_key = SecretStr(storefront)
        assert storefront in (await server.client.get("/demo/pdp/AURORA-HP")).text
    finally:
        settings.demo_storefront_key = None
