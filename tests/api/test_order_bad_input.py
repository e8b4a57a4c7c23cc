"""Bad order input (an out-of-range line id, a NUL byte in a name, key or reason) is a userError,
not a masked "Unexpected error."."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from tests.support import LiveServer

PLACE = """
mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id lines { id } } userErrors { field code message } } }
"""
CANCEL_LINE = """
mutation($o: ID!, $l: ID!) { cancelOrderLine(input: {orderId: $o, lineId: $l}) {
  order { status } userErrors { field code message } } }
"""
CANCEL = """
mutation($id: ID!, $reason: String) { cancelOrder(input: {id: $id, reason: $reason}) {
  order { status } userErrors { field code message } } }
"""


async def _product(server: LiveServer, sku: str) -> None:
    result = await server.gql(
        f"""mutation {{
          a: createProduct(input: {{sku: "{sku}", name: "{sku}", price: {{amountMinor: 1000, currency: EUR}}}})
            {{ userErrors {{ code }} }}
          b: setStock(input: {{sku: "{sku}", location: "main", quantity: 50}})
            {{ userErrors {{ code }} }}
        }}"""
    )
    assert result.data["a"]["userErrors"] == []
    assert result.data["b"]["userErrors"] == []


def _input(sku: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "idempotencyKey": str(uuid.uuid4()),
        "channel": "webstore",
        "customer": {"email": "bad@example.com", "name": "Bad Input"},
        "lines": [{"sku": sku, "quantity": 1}],
    }
    body.update(over)
    return body


async def _order(server: LiveServer, sku: str) -> Any:
    result = await server.gql(PLACE, {"input": _input(sku)})
    payload = result.data["placeOrder"]
    assert payload["userErrors"] == []
    return payload["order"]


async def test_cancel_line_with_an_out_of_range_line_id_is_not_found(server: LiveServer) -> None:
    await _product(server, "RV-BIGID")
    order = await _order(server, "RV-BIGID")
    huge = base64.urlsafe_b64encode(b"OrderLine:99999999999999999999").decode()
    result = await server.gql(CANCEL_LINE, {"o": order["id"], "l": huge})
    assert result.errors == []
    assert result.data["cancelOrderLine"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_place_order_with_a_nul_in_the_customer_name_is_a_user_error(
    server: LiveServer,
) -> None:
    await _product(server, "RV-NUL")
    bad = _input("RV-NUL", customer={"email": "nul@example.com", "name": "Ada\u0000Lovelace"})
    result = await server.gql(PLACE, {"input": bad})
    assert result.errors == []
    assert result.data["placeOrder"]["userErrors"][0]["code"] == "INVALID"


async def test_place_order_with_a_nul_in_the_idempotency_key_is_a_user_error(
    server: LiveServer,
) -> None:
    await _product(server, "RV-NULKEY")
    result = await server.gql(PLACE, {"input": _input("RV-NULKEY", idempotencyKey="k\u0000ey")})
    assert result.errors == []
    assert result.data["placeOrder"]["userErrors"][0]["field"] == ["input", "idempotencyKey"]


async def test_cancel_with_a_nul_in_the_reason_is_a_user_error(server: LiveServer) -> None:
    await _product(server, "RV-NULREASON")
    order = await _order(server, "RV-NULREASON")
    result = await server.gql(CANCEL, {"id": order["id"], "reason": "oops\u0000"})
    assert result.errors == []
    assert result.data["cancelOrder"]["userErrors"][0]["code"] == "INVALID"
