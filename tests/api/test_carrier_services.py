"""Carrier services: transit days per region and service, used by the PDP window, by
placement (validated) and by the promises of waiting lines."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from tests.api.test_supply_and_allocation import (
    PLACE,
    backorderable,
    line,
    product,
    purchase_order,
    read,
    run_job,
)
from tests.support import LiveServer

SET_SERVICE = """
mutation($input: SetCarrierServiceInput!) {
  setCarrierService(input: $input) {
    carrierService { region code name transitMinDays transitMaxDays }
    userErrors { field code message }
  }
}
"""

AVAILABILITY = """
query($sku: String!, $service: String) {
  productAvailability(sku: $sku, region: "EU", carrierService: $service) {
    state deliveryEstimate { earliest latest }
  }
}
"""


def _day(server: LiveServer, n: int) -> str:
    return (server.services.today() + timedelta(days=n)).isoformat()


async def _express(server: LiveServer) -> None:
    result = await server.gql(
        SET_SERVICE,
        {
            "input": {
                "region": "EU",
                "code": "express",
                "name": "Express",
                "transitMinDays": 1,
                "transitMaxDays": 1,
            }
        },
    )
    payload = result.data["setCarrierService"]
    assert payload["userErrors"] == []
    assert payload["carrierService"] == {
        "region": "EU",
        "code": "EXPRESS",
        "name": "Express",
        "transitMinDays": 1,
        "transitMaxDays": 1,
    }


async def _place(server: LiveServer, sku: str, service: str | None) -> dict[str, Any]:
    address: dict[str, Any] = {"region": "EU"}
    if service is not None:
        address["carrierService"] = service
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": "cs@example.com", "name": "Cee"},
                "shippingAddress": address,
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    )
    payload: dict[str, Any] = result.data["placeOrder"]
    return payload


async def test_a_carrier_service_is_set_by_ops_listed_and_refused_to_storefronts(
    server: LiveServer,
) -> None:
    await _express(server)
    listed = await server.gql('{ carrierServices(region: "EU") { code transitMaxDays } }')
    assert {"code": "EXPRESS", "transitMaxDays": 1} in listed.data["carrierServices"]
    denied = await server.gql(
        SET_SERVICE,
        {
            "input": {
                "region": "EU",
                "code": "SLOW",
                "name": "Slow",
                "transitMinDays": 9,
                "transitMaxDays": 12,
            }
        },
        key=await server.key_with("storefront"),
    )
    assert denied.errors
    assert denied.errors[0]["extensions"]["code"] == "FORBIDDEN"
    bad = await server.gql(
        SET_SERVICE,
        {
            "input": {
                "region": "NOWHERE",
                "code": "X",
                "name": "X",
                "transitMinDays": 3,
                "transitMaxDays": 1,
            }
        },
    )
    assert [e["code"] for e in bad.data["setCarrierService"]["userErrors"]] == ["INVALID"]


async def test_the_pdp_window_follows_the_carrier_service_and_an_unknown_one_is_a_field_error(
    server: LiveServer,
) -> None:
    await _express(server)
    await product(
        server, "CS-PDP", 'setStock(input: {sku: "CS-PDP", location: "main", quantity: 5})'
    )
    standard = await server.gql(AVAILABILITY, {"sku": "CS-PDP", "service": None})
    express = await server.gql(AVAILABILITY, {"sku": "CS-PDP", "service": "EXPRESS"})
    # 1 handling day; EU standard transit 2-4 days, express 1 day
    assert standard.data["productAvailability"]["deliveryEstimate"] == {
        "earliest": _day(server, 3),
        "latest": _day(server, 5),
    }
    assert express.data["productAvailability"]["deliveryEstimate"] == {
        "earliest": _day(server, 2),
        "latest": _day(server, 2),
    }
    unknown = await server.gql(AVAILABILITY, {"sku": "CS-PDP", "service": "TELEPORT"})
    assert unknown.body["data"]["productAvailability"] is None
    assert [
        {"field": e["extensions"]["field"], "code": e["extensions"]["code"]} for e in unknown.errors
    ] == [{"field": ["carrierService"], "code": "UNKNOWN_CARRIER_SERVICE"}]


async def test_a_waiting_line_is_promised_with_its_orders_carrier_service(
    server: LiveServer,
) -> None:
    await _express(server)
    await product(server, "CS-BACK", *backorderable("CS-BACK"))
    await purchase_order(server, "CS-BACK", 10, 10)
    standard = await _place(server, "CS-BACK", None)
    express = await _place(server, "CS-BACK", "EXPRESS")
    assert standard["userErrors"] == []
    assert express["userErrors"] == []
    await run_job(server, "PROMISE_NEW_LINES")
    s_line = line(await read(server, standard["order"]))
    e_line = line(await read(server, express["order"]))
    assert [p["cause"] for p in e_line["promiseHistory"]] == ["PLACED"]
    s_est, e_est = s_line["deliveryEstimate"], e_line["deliveryEstimate"]
    # the same supply date; express arrives 1 day after handling, standard 2-4 days
    s_earliest = date.fromisoformat(s_est["earliest"])
    e_earliest = date.fromisoformat(e_est["earliest"])
    assert s_earliest - e_earliest == timedelta(days=1)
    assert date.fromisoformat(e_est["latest"]) < date.fromisoformat(s_est["latest"])


async def test_placing_with_an_unknown_carrier_service_is_refused_and_changes_nothing(
    server: LiveServer,
) -> None:
    await product(
        server, "CS-REF", 'setStock(input: {sku: "CS-REF", location: "main", quantity: 5})'
    )
    before = await server.sql("SELECT count(*) AS n FROM orders")
    refused = await _place(server, "CS-REF", "TELEPORT")
    assert refused["order"] is None
    assert refused["userErrors"] == [
        {
            "field": ["input", "shippingAddress", "carrierService"],
            "code": "UNKNOWN_CARRIER_SERVICE",
            "message": "No carrier service 'TELEPORT' in this region.",
        }
    ]
    after = await server.sql("SELECT count(*) AS n FROM orders")
    assert after[0]["n"] == before[0]["n"]
