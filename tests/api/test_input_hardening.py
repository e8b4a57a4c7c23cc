"""Bad input gets a clear, typed answer and changes nothing: text PostgreSQL cannot store, amounts
past 64 bits, dates outside the planning horizon, unknown regions, e-mail addresses that are not
addresses; a storefront's order never renames the shared customer; and one stored row with an
extreme date errors only its own item of a list."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from tests.api.placement_helpers import PLACE, order_input, place, placed, product
from tests.support import LiveServer

NUL = "\u0000"

CREATE = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { product { sku } userErrors { field code message } } }"""


def _mutation(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        "{ userErrors { field code message } } }"
    )


async def world(server: LiveServer) -> tuple[Any, ...]:
    """What a refused request must leave as it was: every change writes an event."""
    (row,) = await server.sql(
        "SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM products) AS p, "
        "(SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM idempotency_keys) AS k, "
        "(SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM supply) AS s, "
        "(SELECT COALESCE(sum(on_hand), 0) FROM stock_levels) AS stock, "
        "(SELECT count(*) FROM availability_alerts) AS alerts"
    )
    return tuple(row)


def user_errors(body: dict[str, Any]) -> list[tuple[str, list[str]]]:
    (payload,) = body["data"].values()
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


@pytest.fixture(scope="module")
async def stocked(server: LiveServer) -> dict[str, Any]:
    """A product in stock and one order of it (for the mutations that need one)."""
    await product(server, "IH-1", 'setStock(input: {sku: "IH-1", location: "main", quantity: 50})')
    order = await placed(server, [{"sku": "IH-1", "quantity": 1}])
    return {"order": order}


# ---------------------------------------------------------------- text that cannot be stored

MUTATIONS: list[tuple[str, str, dict[str, Any], str, list[str]]] = [
    # (id, document, input, code, field)
    ("product sku", CREATE, {"sku": f"IH-X{NUL}", "name": "n"}, "INVALID", ["input", "sku"]),
    ("product name", CREATE, {"sku": "IH-N", "name": f"n{NUL}"}, "INVALID", ["input", "name"]),
    ("product family", CREATE, {"sku": "IH-F", "name": "n", "family": NUL},
     "INVALID", ["input", "family"]),
    ("product description", CREATE, {"sku": "IH-D", "name": "n", "description": f"a{NUL}"},
     "INVALID", ["input", "description"]),
    ("product tag", CREATE, {"sku": "IH-T", "name": "n", "tags": ["OK", f"T{NUL}"]},
     "INVALID", ["input", "tags", "1"]),
    ("product option value", CREATE, {"sku": "IH-O", "name": "n", "options": {"a": NUL}},
     "INVALID", ["input", "options"]),
    ("product option key", CREATE, {"sku": "IH-K", "name": "n", "options": {NUL: 1}},
     "INVALID", ["input", "options"]),
    ("product name on two lines", CREATE, {"sku": "IH-L", "name": "n\r\nBcc: x"},
     "INVALID", ["input", "name"]),
    ("adjust note", _mutation("adjustStock", "AdjustStockInput"),
     {"sku": "IH-1", "location": "main", "delta": 1, "reason": "COUNT", "note": f"n{NUL}"},
     "INVALID", ["input", "note"]),
    ("adjust sku", _mutation("adjustStock", "AdjustStockInput"),
     {"sku": f"IH-1{NUL}", "location": "main", "delta": 1, "reason": "COUNT"},
     "NOT_FOUND", ["input", "sku"]),
    ("adjust location", _mutation("adjustStock", "AdjustStockInput"),
     {"sku": "IH-1", "location": f"main{NUL}", "delta": 1, "reason": "COUNT"},
     "UNKNOWN_LOCATION", ["input", "location"]),
    ("set stock note", _mutation("setStock", "SetStockInput"),
     {"sku": "IH-1", "location": "main", "quantity": 9, "note": NUL},
     "INVALID", ["input", "note"]),
    ("safety stock sku", _mutation("setSafetyStock", "SetSafetyStockInput"),
     {"sku": f"IH-1{NUL}", "quantity": 1}, "NOT_FOUND", ["input", "sku"]),
    ("channel pool channel", _mutation("allocateChannelPool", "AllocateChannelPoolInput"),
     {"sku": "IH-1", "channel": f"webstore{NUL}", "quantity": 1},
     "UNKNOWN_CHANNEL", ["input", "channel"]),
    ("pre-order message", _mutation("configurePreorder", "ConfigurePreorderInput"),
     {"sku": "IH-1", "enabled": False, "message": f"m{NUL}"}, "INVALID", ["input", "message"]),
    ("pre-order sku", _mutation("configurePreorder", "ConfigurePreorderInput"),
     {"sku": f"IH-1{NUL}", "enabled": False}, "NOT_FOUND", ["input", "sku"]),
    ("backorder message", _mutation("configureBackorder", "ConfigureBackorderInput"),
     {"sku": "IH-1", "allowed": False, "message": f"m{NUL}"}, "INVALID", ["input", "message"]),
    ("alert sku", _mutation("requestAvailabilityAlert", "RequestAvailabilityAlertInput"),
     {"sku": f"IH-1{NUL}", "email": "ada@example.com"}, "NOT_FOUND", ["input", "sku"]),
    ("customer priority", _mutation("setCustomerPriority", "SetCustomerPriorityInput"),
     {"email": f"ada{NUL}@example.com", "priority": True}, "NOT_FOUND", ["input", "email"]),
]  # fmt: skip

PLACEMENTS: list[tuple[str, dict[str, Any], str, list[str]]] = [
    # (id, order_input extras, code, field)
    ("address line", {"shippingAddress": {"region": "EU", "lines": ["1 Main St", f"a{NUL}"]}},
     "INVALID", ["input", "shippingAddress", "lines", "1"]),
    ("city", {"shippingAddress": {"region": "EU", "city": f"c{NUL}"}},
     "INVALID", ["input", "shippingAddress", "city"]),
    ("channel", {"channel": f"webstore{NUL}"}, "UNKNOWN_CHANNEL", ["input", "channel"]),
    ("customer name", {"name": f"Ada{NUL}"}, "INVALID", ["input", "customer", "name"]),
    ("customer name on two lines", {"name": "Ada\r\nBcc: eve@example.com"},
     "INVALID", ["input", "customer", "name"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "data", "code", "field"),
    [case[1:] for case in MUTATIONS],
    ids=[case[0] for case in MUTATIONS],
)
async def test_a_mutation_given_text_postgresql_cannot_store_answers_a_user_error_and_changes_nothing(
    server: LiveServer,
    stocked: dict[str, Any],
    document: str,
    data: dict[str, Any],
    code: str,
    field: list[str],
) -> None:
    before = await world(server)
    result = await server.gql(document, {"input": data})
    assert result.errors == []
    assert user_errors(result.body) == [(code, field)]
    assert await world(server) == before


async def test_product_options_with_an_integer_past_64_bits_are_refused_and_change_nothing(
    server: LiveServer,
) -> None:
    before = await world(server)
    result = await server.gql(
        'mutation { createProduct(input: {sku: "IH-BIG-OPT", name: "n", '
        "options: {n: 99999999999999999999999}}) { userErrors { field code message } } }"
    )
    assert result.errors == []
    assert user_errors(result.body) == [("INVALID", ["input", "options"])]
    assert await world(server) == before


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [case[1:] for case in PLACEMENTS],
    ids=[case[0] for case in PLACEMENTS],
)
async def test_an_order_with_text_postgresql_cannot_store_is_refused_and_changes_nothing(
    server: LiveServer, stocked: dict[str, Any], extra: dict[str, Any], code: str, field: list[str]
) -> None:
    before = await world(server)
    variables = {"input": order_input([{"sku": "IH-1", "quantity": 1}], **extra)}
    result = await server.gql(PLACE, variables, key=await server.key_with("storefront"))
    assert result.errors == []
    payload = result.data["placeOrder"]
    assert payload["order"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await world(server) == before


QUERIES: list[tuple[str, str, dict[str, Any], Any, list[tuple[str, list[str] | None]]]] = [
    # (id, document, variables, data, [(code, field)] of the errors)
    ("product by sku", "query($s: String!) { product(sku: $s) { sku } }", {"s": f"IH-1{NUL}"},
     {"product": None}, []),
    ("availability by sku", "query($s: String!) { productAvailability(sku: $s) { state } }",
     {"s": f"IH-1{NUL}"}, {"productAvailability": None}, [("NOT_FOUND", ["sku"])]),
    ("product search", "query($s: String!) { products(filter: {search: $s}) { nodes { sku } "
     "totalCount } }", {"s": f"IH{NUL}"}, {"products": {"nodes": [], "totalCount": 0}}, []),
    ("product tags", "query($s: String!) { products(filter: {tags: [$s]}) { nodes { sku } } }",
     {"s": f"T{NUL}"}, {"products": {"nodes": []}}, []),
    ("product family", "query($s: String!) { products(filter: {family: $s}) { nodes { sku } } }",
     {"s": f"F{NUL}"}, {"products": {"nodes": []}}, []),
    ("pools by sku", "query($s: String!) { pools(sku: $s) { nodes { kind } totalCount } }",
     {"s": f"IH-1{NUL}"}, {"pools": {"nodes": [], "totalCount": 0}}, []),
    ("orders by sku", "query($s: String!) { orders(filter: {sku: $s}) { nodes { id } } }",
     {"s": f"IH-1{NUL}"}, {"orders": {"nodes": []}}, []),
    ("orders by tag", "query($s: String!) { orders(filter: {tag: $s}) { nodes { id } "
     "totalCount } }", {"s": f"T{NUL}"}, {"orders": {"nodes": [], "totalCount": 0}}, []),
    ("orders by channel", "query($s: String!) { orders(filter: {channel: $s}) { nodes { id } } }",
     {"s": f"webstore{NUL}"}, {"orders": {"nodes": []}}, []),
    ("messages by recipient", "query($s: String!) { notifications(filter: {recipient: $s}) "
     "{ nodes { id } } }", {"s": f"ada{NUL}@example.com"}, {"notifications": {"nodes": []}}, []),
    ("promise accuracy by sku", "query($s: String!) { promiseAccuracy(sku: $s) "
     "{ deliveredLines } }", {"s": f"IH-1{NUL}"}, {"promiseAccuracy": {"deliveredLines": 0}}, []),
    ("pool cursor past 64 bits", "query($s: String!) { pools(after: $s) { nodes { kind } } }",
     {"s": base64.urlsafe_b64encode(b"pool:99999999999999999999").decode()}, None,
     [("INVALID_CURSOR", None)]),
    ("product node", "query($s: ID!) { node(id: $s) { id } }",
     {"s": base64.urlsafe_b64encode(f"Product:IH-1{NUL}".encode()).decode()}, {"node": None}, []),
    ("product cursor", "query($s: String!) { products(after: $s) { nodes { sku } } }",
     {"s": base64.urlsafe_b64encode(f"sku:IH{NUL}".encode()).decode()}, None,
     [("INVALID_CURSOR", None)]),
    ("order cursor before year 1 in UTC", "query($s: String!) { orders(after: $s) "
     "{ nodes { id } } }", {"s": base64.urlsafe_b64encode(
         f"order:0001-01-01T00:00:00+01:00|{uuid.uuid4()}".encode()).decode()}, None,
     [("INVALID_CURSOR", None)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "variables", "data", "errors"),
    [case[1:] for case in QUERIES],
    ids=[case[0] for case in QUERIES],
)
async def test_a_query_given_text_postgresql_cannot_store_answers_as_for_an_unknown_value(
    server: LiveServer,
    stocked: dict[str, Any],
    document: str,
    variables: dict[str, Any],
    data: Any,
    errors: list[tuple[str, list[str] | None]],
) -> None:
    result = await server.gql(document, variables)
    found = [(e["extensions"].get("code"), e["extensions"].get("field")) for e in result.errors]
    assert found == errors, result.errors
    assert result.body["data"] == data


# ---------------------------------------------------------------- amounts past 64 bits


async def test_an_order_whose_total_would_pass_64_bits_is_refused_and_changes_nothing(
    server: LiveServer,
) -> None:
    await product(
        server,
        "IH-DEAR",
        'configureBackorder(input: {sku: "IH-DEAR", allowed: true})',
        price=9_000_000_000_000_000_000,
    )
    before = await world(server)
    payload = await place(server, [{"sku": "IH-DEAR", "quantity": 2}])
    assert payload["order"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID", ["input", "lines", "0", "quantity"])
    ]
    assert await world(server) == before
    one = await placed(server, [{"sku": "IH-DEAR", "quantity": 1}])
    assert one["total"]["amountMinor"] == 9_000_000_000_000_000_000


# ---------------------------------------------------------------- dates outside the horizon

DATES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("release 0001-01-01", CREATE, {"sku": "IH-D0", "name": "n", "releaseDate": "0001-01-01"},
     ["input", "releaseDate"]),
    ("release 9999-12-31", CREATE, {"sku": "IH-D9", "name": "n", "releaseDate": "9999-12-31"},
     ["input", "releaseDate"]),
    ("pre-order release 9999-12-31", _mutation("configurePreorder", "ConfigurePreorderInput"),
     {"sku": "IH-1", "enabled": True, "releaseDate": "9999-12-31"}, ["input", "releaseDate"]),
    ("pre-order release 0001-01-01", _mutation("configurePreorder", "ConfigurePreorderInput"),
     {"sku": "IH-1", "enabled": True, "releaseDate": "0001-01-01"}, ["input", "releaseDate"]),
    ("purchase order 9999-12-31", _mutation("createPurchaseOrder", "CreatePurchaseOrderInput"),
     {"sku": "IH-1", "quantity": 1, "location": "main", "supplier": {"code": "S"},
      "expectedOn": "9999-12-31"}, ["input", "expectedOn"]),
    ("production run 9999-12-31",
     _mutation("scheduleProductionRun", "ScheduleProductionRunInput"),
     {"sku": "IH-1", "startOn": "9999-12-31", "unitsPerDay": 1, "runDays": 1,
      "location": "main"}, ["input", "startOn"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "data", "field"),
    [case[1:] for case in DATES],
    ids=[case[0] for case in DATES],
)
async def test_a_date_outside_the_planning_horizon_is_invalid_date_and_changes_nothing(
    server: LiveServer,
    stocked: dict[str, Any],
    document: str,
    data: dict[str, Any],
    field: list[str],
) -> None:
    before = await world(server)
    result = await server.gql(document, {"input": data})
    assert result.errors == []
    assert user_errors(result.body) == [("INVALID_DATE", field)]
    assert await world(server) == before
    stored = await server.sql(
        "SELECT count(*) FROM products WHERE release_date IN ('infinity', '-infinity')"
    )
    assert stored[0][0] == 0


@pytest.mark.parametrize(
    "bound",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "9999-12-31T00:00:00+00:00"],
)
async def test_an_order_list_filter_outside_the_horizon_is_an_invalid_date_field_error(
    server: LiveServer, bound: str
) -> None:
    for name in ("placedFrom", "placedTo"):
        result = await server.gql(
            f"query($t: DateTime!) {{ orders(filter: {{{name}: $t}}) {{ nodes {{ id }} }} }}",
            {"t": bound},
        )
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in result.errors] == [
            ("INVALID_DATE", ["filter", name])
        ]


LIST = """{ products(first: 100) { nodes { sku availability { state } } } }"""


async def test_a_stored_row_with_an_extreme_date_errors_only_its_own_item_of_a_list(
    server: LiveServer,
) -> None:
    for sku in ("IH-ROW-A", "IH-ROW-B", "IH-ROW-C", "IH-ROW-D"):
        await product(
            server,
            sku,
            f'setStock(input: {{sku: "{sku}", location: "main", quantity: 3}})',
            f'configureBackorder(input: {{sku: "{sku}", allowed: true}})',
        )
    await server.gql(
        'mutation { createPurchaseOrder(input: {sku: "IH-ROW-B", quantity: 5, location: "main", '
        'supplier: {code: "IH-S"}}) { userErrors { code } } }'
    )
    # rows no caller can write any more, as an older release (or a hand) left them
    await server.sql(
        "UPDATE supply SET expected_on = 'infinity' "
        "WHERE product_id = (SELECT id FROM products WHERE sku = 'IH-ROW-B')"
    )
    await server.sql(
        "UPDATE products SET release_date = 'infinity', preorder_enabled = true "
        "WHERE sku = 'IH-ROW-C'"
    )
    await server.sql(
        "INSERT INTO supply (product_id, kind, quantity, location_code, reference, expected_on, "
        "original_expected_on, created_by) SELECT id, 'PURCHASE_ORDER', 4, 'main', 'far', "
        "'10000-01-01', '10000-01-01', 'a hand' FROM products WHERE sku = 'IH-ROW-D'"
    )
    for anonymous in (True, False):
        result = await server.gql(LIST, anonymous=anonymous)
        products = result.body["data"]["products"]["nodes"]
        answers = {n["sku"]: n["availability"] for n in products}
        assert answers["IH-ROW-A"] == {"state": "IN_STOCK"}
        assert answers["IH-ROW-B"] == {"state": "IN_STOCK"}
        assert answers["IH-ROW-C"] is None
        assert answers["IH-ROW-D"] is None
        # one error each, on its own item; every other product answers
        assert sorted(products[e["path"][2]]["sku"] for e in result.errors) == [
            "IH-ROW-C",
            "IH-ROW-D",
        ]
        assert all(e["path"][:2] == ["products", "nodes"] for e in result.errors)
        others = [n for n in products if n["sku"] not in ("IH-ROW-C", "IH-ROW-D")]
        assert others
        assert all(n["availability"] is not None for n in others)
    pdp = await server.gql(
        'query { a: productAvailability(sku: "IH-ROW-A") { state } '
        'b: productAvailability(sku: "IH-ROW-B") { state } }',
        anonymous=True,
    )
    assert pdp.body["data"] == {"a": {"state": "IN_STOCK"}, "b": {"state": "IN_STOCK"}}


# ---------------------------------------------------------------- regions, SKUs, quantities


async def test_an_order_to_an_unknown_region_is_refused_as_the_pdp_refuses_it(
    server: LiveServer, stocked: dict[str, Any]
) -> None:
    before = await world(server)
    for key in (server.ops_key, await server.key_with("storefront")):
        variables = {
            "input": order_input(
                [{"sku": "IH-1", "quantity": 1}], shippingAddress={"region": "MARS"}
            )
        }
        payload = (await server.gql(PLACE, variables, key=key)).data["placeOrder"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("UNKNOWN_REGION", ["input", "shippingAddress", "region"])
        ]
    assert await world(server) == before
    pdp = await server.gql('{ productAvailability(sku: "IH-1", region: "MARS") { state } }')
    assert [e["extensions"]["code"] for e in pdp.errors] == ["UNKNOWN_REGION"]


@pytest.mark.parametrize(
    ("arguments", "code", "field"),
    [
        ('sku: "IH-NO-SUCH"', "NOT_FOUND", ["sku"]),
        ('sku: "IH-1", quantity: 0', "INVALID_QUANTITY", ["quantity"]),
        ('sku: "IH-1", quantity: -3', "INVALID_QUANTITY", ["quantity"]),
    ],
    ids=["unknown sku", "quantity zero", "negative quantity"],
)
async def test_the_pdp_answers_an_unknown_sku_or_a_quantity_below_one_with_a_field_error(
    server: LiveServer, stocked: dict[str, Any], arguments: str, code: str, field: list[str]
) -> None:
    for anonymous in (True, False):
        result = await server.gql(
            f"{{ productAvailability({arguments}) {{ state buttonLabel }} }}", anonymous=anonymous
        )
        assert result.body["data"] == {"productAvailability": None}
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in result.errors] == [
            (code, field)
        ]


# ---------------------------------------------------------------- e-mail addresses


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com\r\nBcc: eve@example.com",
        "<script>alert(1)</script>@example.com",
        "ada@example.com<script>",
        "ada@@example.com",
    ],
    ids=["crlf header", "markup local part", "markup after", "two at signs"],
)
async def test_an_order_with_an_address_that_is_not_one_is_refused_and_nothing_is_stored(
    server: LiveServer, stocked: dict[str, Any], email: str
) -> None:
    before = await world(server)
    payload = await place(server, [{"sku": "IH-1", "quantity": 1}], email=email)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID", ["input", "customer", "email"])
    ]
    assert await world(server) == before
    alert = await server.gql(
        _mutation("requestAvailabilityAlert", "RequestAvailabilityAlertInput"),
        {"input": {"sku": "IH-1", "email": email}},
        anonymous=True,
    )
    assert user_errors(alert.body) == [("INVALID_EMAIL", ["input", "email"])]
    stored = await server.sql("SELECT count(*) FROM orders WHERE customer_email ~ '[<>\\r\\n]'")
    assert stored[0][0] == 0


async def test_an_order_stores_the_checked_address_in_its_normal_form(
    server: LiveServer, stocked: dict[str, Any]
) -> None:
    order = await placed(
        server, [{"sku": "IH-1", "quantity": 1}], email="  Grace.Hopper@EXAMPLE.com "
    )
    assert order["customer"]["email"] == "grace.hopper@example.com"
    rows = await server.sql("SELECT name FROM customers WHERE email = 'grace.hopper@example.com'")
    assert len(rows) == 1


# ---------------------------------------------------------------- the shared customer record


async def test_a_storefront_order_keeps_its_contact_on_the_order_and_never_renames_the_customer(
    server: LiveServer, stocked: dict[str, Any]
) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    marketplace = await server.key_with("channel:marketplace")
    first = await placed(
        server,
        [{"sku": "IH-1", "quantity": 1}],
        email=email,
        name="Ada Lovelace",
        channel="marketplace",
        api_key=marketplace,
    )
    storefront = await placed(
        server,
        [{"sku": "IH-1", "quantity": 1}],
        email=email,
        name="Mallory",
        api_key=await server.key_with("storefront"),
    )
    assert storefront["customer"] == {"email": email, "name": "Mallory"}
    (customer,) = await server.sql("SELECT name FROM customers WHERE email = $1", email)
    assert customer["name"] == "Ada Lovelace"
    earlier = await server.gql(
        "query($id: ID!) { order(id: $id) { customer { name } } }", {"id": first["id"]}
    )
    assert earlier.data["order"]["customer"]["name"] == "Ada Lovelace"
    # a caller trusted with customer claims (a channel integration, ops) does change it
    await placed(
        server,
        [{"sku": "IH-1", "quantity": 1}],
        email=email,
        name="Ada King",
        channel="marketplace",
        api_key=marketplace,
    )
    (customer,) = await server.sql("SELECT name FROM customers WHERE email = $1", email)
    assert customer["name"] == "Ada King"


async def test_a_storefront_order_of_a_new_customer_creates_the_record_with_its_contact(
    server: LiveServer, stocked: dict[str, Any]
) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    await placed(
        server,
        [{"sku": "IH-1", "quantity": 1}],
        email=email,
        name="Grace",
        api_key=await server.key_with("storefront"),
    )
    (customer,) = await server.sql("SELECT name, priority FROM customers WHERE email = $1", email)
    assert (customer["name"], customer["priority"]) == ("Grace", False)
