"""The compiled path for trusted documents answers exactly what the normal executor answers."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from app.web.documents import TRUSTED_DIR
from tests.support import LiveServer

PDP = (TRUSTED_DIR / "pdp.graphql").read_text(encoding="utf-8")
# The same document with one more comment line is not a trusted text: the normal executor runs.
# The line goes at the end, so that the errors' locations (bad arguments are top-level errors)
# are the same lines in both texts.
PDP_UNCOMPILED = PDP + "# not trusted\n"

SETUP = [
    ('createProduct(input: {sku: "EQ-READY", name: "Ready"}) { userErrors { code } }'),
    ('setStock(input: {sku: "EQ-READY", location: "main", quantity: 4}) { userErrors { code } }'),
    (
        'allocateChannelPool(input: {sku: "EQ-READY", channel: "marketplace", quantity: 2}) '
        "{ userErrors { code } }"
    ),
    ('createProduct(input: {sku: "EQ-PRE", name: "Pre"}) { userErrors { code } }'),
    (
        'configurePreorder(input: {sku: "EQ-PRE", enabled: true, releaseDate: "2031-07-01", '
        'cap: 3, message: "Ships from {date}", paymentTerms: {kind: DEPOSIT, '
        "depositPercent: 25}}) { userErrors { code } }"
    ),
    ('createProduct(input: {sku: "EQ-TBA", name: "Date to be announced"}) { userErrors { code } }'),
    ('configurePreorder(input: {sku: "EQ-TBA", enabled: true}) { userErrors { code } }'),
    ('createProduct(input: {sku: "EQ-BACK", name: "Back"}) { userErrors { code } }'),
    ('setStock(input: {sku: "EQ-BACK", location: "main", quantity: 1}) { userErrors { code } }'),
    (
        'configureBackorder(input: {sku: "EQ-BACK", allowed: true, cap: 5, paymentTerms: '
        "{kind: DEPOSIT, depositAmount: {amountMinor: 500, currency: EUR}}}) "
        "{ userErrors { code } }"
    ),
    ('createProduct(input: {sku: "EQ-GONE", name: "Gone"}) { userErrors { code } }'),
]

SKUS = ["EQ-READY", "EQ-PRE", "EQ-TBA", "EQ-BACK", "EQ-GONE", "EQ-UNKNOWN"]
QUANTITIES = [1, 3, 9, 0, -2]
CHANNELS = [None, "marketplace", "webstore", "nowhere"]
REGIONS = [None, "US", "XX"]


@pytest.fixture(scope="module")
async def catalog(server: LiveServer) -> LiveServer:
    for i, mutation in enumerate(SETUP):
        result = await server.gql(f"mutation M{i} {{ {mutation} }}")
        (payload,) = result.data.values()
        assert payload["userErrors"] == [], mutation
    server.clock.set_today(date(2031, 6, 1))
    return server


async def _post(server: LiveServer, query: str, variables: dict[str, Any]) -> Any:
    response = await server.client.post(
        "/graphql", json={"query": query, "operationName": "PDP", "variables": variables}
    )
    return response.json()


async def test_the_trusted_pdp_document_is_compiled_and_its_variant_is_not(
    catalog: LiveServer,
) -> None:
    assert PDP in catalog.app.state.compiled
    assert PDP_UNCOMPILED not in catalog.app.state.compiled


async def test_every_state_channel_region_and_bad_input_gives_the_same_answer(
    catalog: LiveServer,
) -> None:
    compared = 0
    for sku, quantity, channel, region in itertools.product(SKUS, QUANTITIES, CHANNELS, REGIONS):
        variables: dict[str, Any] = {"sku": sku, "quantity": quantity}
        if channel is not None:
            variables["channel"] = channel
        if region is not None:
            variables["region"] = region
        fast = await _post(catalog, PDP, variables)
        slow = await _post(catalog, PDP_UNCOMPILED, variables)
        assert fast == slow, variables
        compared += 1
    assert compared == len(SKUS) * len(QUANTITIES) * len(CHANNELS) * len(REGIONS)


async def test_default_arguments_and_the_release_day_boundary_match(catalog: LiveServer) -> None:
    catalog.clock.set_today(date(2031, 7, 1))
    try:
        for sku in SKUS:
            fast = await _post(catalog, PDP, {"sku": sku})
            assert fast == await _post(catalog, PDP_UNCOMPILED, {"sku": sku})
        released = await _post(catalog, PDP, {"sku": "EQ-PRE"})
        assert released["data"]["productAvailability"]["state"] == "SOLD_OUT"
    finally:
        catalog.clock.set_today(date(2031, 6, 1))


@pytest.mark.parametrize(
    "variables",
    [{}, {"sku": 12}, {"sku": "EQ-READY", "quantity": "many"}, {"sku": None}],
)
async def test_bad_variables_fall_back_to_the_executors_errors(
    catalog: LiveServer, variables: dict[str, Any]
) -> None:
    fast = await _post(catalog, PDP, variables)
    slow = await _post(catalog, PDP_UNCOMPILED, variables)
    assert fast["errors"]
    assert [e["message"] for e in fast["errors"]] == [e["message"] for e in slow["errors"]]


async def test_compiled_answers_are_counted_in_the_operation_metrics(catalog: LiveServer) -> None:
    await _post(catalog, PDP, {"sku": "EQ-READY"})
    metrics = (await catalog.client.get("/metrics")).text
    assert (
        'oms_graphql_operations_total{operation="PDP",outcome="ok",path="compiled",type="query"}'
        in metrics
    )
