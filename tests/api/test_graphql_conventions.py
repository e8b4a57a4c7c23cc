"""The conventions a client team relies on (docs/api.md): node refetch behind the same
authorization, typed errors, one page-size rule with counted totals, field errors for bad
query arguments, a strict Long."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import LiveServer

PRODUCT = """mutation($sku: String!, $price: Long!) {
  createProduct(input: {sku: $sku, name: "Convention", price: {amountMinor: $price,
                currency: EUR}}) { product { id price { amountMinor currency } }
                userErrors { field code message } }
  setStock(input: {sku: $sku, location: "main", quantity: 10}) { userErrors { code } }
}"""

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number lines { id } } orderToken userErrors { field code message } } }"""

NODE = """query($id: ID!) { node(id: $id) { id __typename
  ... on Product { sku } ... on Order { number } ... on OrderLine { sku order { id } } } }"""


async def _product(server: LiveServer, sku: str, price: int = 1500) -> dict[str, Any]:
    result = await server.gql(PRODUCT, {"sku": sku, "price": price})
    product: dict[str, Any] = result.data["createProduct"]["product"]
    return product


async def _order(server: LiveServer, sku: str, channel: str = "webstore") -> dict[str, Any]:
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": channel,
                "customer": {"email": "conv@example.com", "name": "C"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    )
    payload: dict[str, Any] = result.data["placeOrder"]
    assert payload["userErrors"] == []
    return payload


async def test_node_refetches_a_product_an_order_and_a_line_by_their_global_ids(
    server: LiveServer,
) -> None:
    product = await _product(server, "CONV-NODE")
    placed = await _order(server, "CONV-NODE")
    order, line = placed["order"], placed["order"]["lines"][0]
    found = [
        (await server.gql(NODE, {"id": gid})).data["node"]
        for gid in (product["id"], order["id"], line["id"])
    ]
    assert [(n["__typename"], n["id"]) for n in found] == [
        ("Product", product["id"]),
        ("Order", order["id"]),
        ("OrderLine", line["id"]),
    ]
    assert found[2]["order"]["id"] == order["id"]
    many = await server.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [order["id"], "not-an-id", product["id"]]},
    )
    assert many.data["nodes"] == [{"id": order["id"]}, None, {"id": product["id"]}]


async def test_a_storefront_cannot_fetch_an_order_by_global_id_without_its_token(
    server: LiveServer,
) -> None:
    await _product(server, "CONV-TOKEN")
    placed = await _order(server, "CONV-TOKEN")
    order_id = placed["order"]["id"]
    storefront = await server.key_with("storefront")
    marketplace = await server.key_with("channel:marketplace")
    for key in (storefront, marketplace):
        assert (await server.gql(NODE, {"id": order_id}, key=key)).data == {"node": None}
    line_id = placed["order"]["lines"][0]["id"]
    assert (await server.gql(NODE, {"id": line_id}, key=storefront)).data == {"node": None}
    anonymous = await server.gql(NODE, {"id": order_id}, anonymous=True)
    assert anonymous.data == {"node": None}
    with_token = await server.gql(
        "query($id: ID!, $t: String) { order(id: $id, token: $t) { id } }",
        {"id": order_id, "t": placed["orderToken"]},
        key=storefront,
    )
    assert with_token.data == {"order": {"id": order_id}}


async def test_nodes_takes_at_most_a_hundred_ids(server: LiveServer) -> None:
    answer = await server.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x"] * 101}
    )
    assert answer.errors[0]["extensions"]["code"] == "INVALID_PAGE_SIZE"


async def test_a_bad_query_argument_is_the_fields_error_with_code_and_field(
    server: LiveServer,
) -> None:
    answer = await server.gql(
        """{ a: productAvailability(sku: "CONV-NOPE") { state }
             b: productAvailability(sku: "CONV-NOPE", quantity: 0) { state } }""",
        anonymous=True,
    )
    assert answer.body["data"] == {"a": None, "b": None}
    by_path = {e["path"][0]: e["extensions"] for e in answer.errors}
    assert by_path["a"] == {"code": "NOT_FOUND", "field": ["sku"]}
    assert by_path["b"] == {"code": "INVALID_QUANTITY", "field": ["quantity"]}


@pytest.mark.parametrize("bad", [1.5, 2.0, True, "3", 2**63, -(2**63) - 1])
async def test_long_accepts_only_64_bit_integers(server: LiveServer, bad: Any) -> None:
    sku = f"CONV-LONG-{uuid.uuid4().hex[:6]}"
    answer = await server.gql(PRODUCT, {"sku": sku, "price": bad})
    assert answer.body.get("data") is None
    assert answer.errors, answer.body
    created = await server.gql("query($s: String!) { product(sku: $s) { sku } }", {"s": sku})
    assert created.data == {"product": None}


async def test_long_keeps_the_largest_int64(server: LiveServer) -> None:
    product = await _product(server, "CONV-BIG", price=2**63 - 1)
    assert product["price"] == {"amountMinor": 2**63 - 1, "currency": "EUR"}


async def test_every_list_pages_twenty_by_default_up_to_the_maximum_and_counts_when_asked(
    server: LiveServer,
) -> None:
    for i in range(22):
        await _product(server, f"CONV-PAGE-{i:02d}")
    page = await server.gql(
        """{ products(filter: {search: "CONV-PAGE"}) { totalCount nodes { sku }
             pageInfo { hasNextPage } } }"""
    )
    products = page.data["products"]
    assert len(products["nodes"]) == 20
    assert products["totalCount"] == 22
    assert products["pageInfo"]["hasNextPage"] is True
    for field in ("products", "orders", "pools", "supply"):
        too_many = await server.gql(f"{{ {field}(first: 101) {{ totalCount }} }}")
        assert too_many.errors[0]["extensions"]["code"] == "INVALID_PAGE_SIZE", field
        counted = await server.gql(
            f"{{ {field}(first: 0) {{ totalCount nodes {{ __typename }} }} }}"
        )
        assert counted.data[field]["nodes"] == []
        assert counted.data[field]["totalCount"] >= 0


async def test_an_order_list_counts_the_orders_its_filter_matches(server: LiveServer) -> None:
    await _product(server, "CONV-COUNT")
    for _ in range(3):
        await _order(server, "CONV-COUNT")
    answer = await server.gql(
        '{ orders(first: 1, filter: {sku: "CONV-COUNT"}) { totalCount nodes { id } } }'
    )
    assert answer.data["orders"]["totalCount"] == 3
    assert len(answer.data["orders"]["nodes"]) == 1


async def test_a_mutation_error_names_its_area_type_and_enum_code(server: LiveServer) -> None:
    answer = await server.gql(
        """mutation { placeOrder(input: {idempotencyKey: "k", channel: "nowhere",
             customer: {email: "a@b.c", name: "A"}, lines: [{sku: "X", quantity: 1}]}) {
             userErrors { __typename field code message } } }"""
    )
    (error,) = answer.data["placeOrder"]["userErrors"]
    assert error["__typename"] == "PlacementError"
    assert (error["field"], error["code"]) == (["input", "channel"], "UNKNOWN_CHANNEL")
