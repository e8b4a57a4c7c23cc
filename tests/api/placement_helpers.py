"""GraphQL documents and small functions shared by the order placement test modules (no tests)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support import LiveServer

SUMMARY = (
    "captured { amountMinor } authorized { amountMinor } refunded { amountMinor } "
    "voided { amountMinor } dueAtDispatch { amountMinor }"
)

ORDER_FIELDS = f"""
  id number status tags channel placedAt
  customer {{ email name }}
  total {{ amountMinor currency }}
  lines {{ id lineNumber subNumber sku quantity state status queuePosition unitsAhead
          reservedPool reservedChannel paymentTerms shipmentGroup
          unitPrice {{ amountMinor currency }}
          paymentSummary {{ {SUMMARY} }} }}
  shipmentGroups {{ number states shipsWhen lines {{ id sku quantity }} }}
  payments {{ kind amount {{ amountMinor currency }} gateway reference line {{ id }} expiresAt note }}
  paymentSummary {{ {SUMMARY} }}
  events {{ kind actor line {{ id }} before payload }}
"""

PLACE = f"""
mutation Place($input: PlaceOrderInput!) {{
  placeOrder(input: $input) {{
    replayed
    orderToken
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

CANCEL_ORDER = f"""
mutation($id: ID!, $reason: String) {{
  cancelOrder(input: {{id: $id, reason: $reason}}) {{
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

CANCEL_LINE = f"""
mutation($o: ID!, $l: ID!, $reason: String) {{
  cancelOrderLine(input: {{orderId: $o, lineId: $l, reason: $reason}}) {{
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

ORDER_BY_ID = "query($id: ID!, $t: String) { order(id: $id, token: $t) { id number } }"
ORDER_BY_NUMBER = (
    "query($n: String!, $t: String) { orderByNumber(number: $n, token: $t) { id number channel } }"
)

ORDERS = """
query($first: Int, $after: String, $filter: OrderFilterInput) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id number status channel placedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

POOLS = """query($sku: String!) {
  product(sku: $sku) { pools { kind channel capacity committed available } }
}"""

AVAILABILITY = """query($sku: String!, $q: Int!, $channel: String) {
  productAvailability(sku: $sku, quantity: $q, channel: $channel) {
    state availableQuantity fulfillable
  }
}"""


def order_input(lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "idempotencyKey": extra.pop("key", str(uuid.uuid4())),
        "channel": extra.pop("channel", "webstore"),
        "customer": {
            "email": extra.pop("email", "ada@example.com"),
            "name": extra.pop("name", "Ada"),
        },
        "shippingAddress": {"region": "EU", "postalCode": "1011"},
        "lines": lines,
        **extra,
    }


async def place(
    server: LiveServer,
    lines: list[dict[str, Any]],
    idem: str | None = None,
    *,
    api_key: str | None = None,
    **extra: Any,
) -> Any:
    """The placeOrder payload; ``idem`` is the idempotency key, ``api_key`` the caller."""
    if idem is not None:
        extra["key"] = idem
    result = await server.gql(PLACE, {"input": order_input(lines, **extra)}, key=api_key)
    return result.data["placeOrder"]


async def placed(server: LiveServer, lines: list[dict[str, Any]], **extra: Any) -> Any:
    """The order of a placement that must succeed."""
    payload = await place(server, lines, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["order"]


async def product(
    server: LiveServer,
    sku: str,
    *mutations: str,
    price: int = 1000,
    currency: str = "EUR",
    create: str = "",
) -> None:
    body = " ".join(
        [
            f'a: createProduct(input: {{sku: "{sku}", name: "{sku}", '
            f"price: {{amountMinor: {price}, currency: {currency}}} {create}}}) "
            "{ userErrors { code message } }"
        ]
        + [f"m{i}: {m} {{ userErrors {{ code message }} }}" for i, m in enumerate(mutations)]
    )
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


async def run(server: LiveServer, mutation: str) -> None:
    """One inventory mutation (setStock, allocateChannelPool, ...) that must succeed."""
    result = await server.gql(f"mutation {{ m: {mutation} {{ userErrors {{ code message }} }} }}")
    assert result.data["m"]["userErrors"] == [], result.data


async def pools(server: LiveServer, sku: str) -> dict[str, dict[str, Any]]:
    result = await server.gql(POOLS, {"sku": sku})
    return {(p["channel"] or p["kind"]): p for p in result.data["product"]["pools"]}


async def committed(server: LiveServer, sku: str) -> dict[str, int]:
    return {name: p["committed"] for name, p in (await pools(server, sku)).items()}


async def available_quantity(server: LiveServer, sku: str, channel: str = "webstore") -> Any:
    result = await server.gql(AVAILABILITY, {"sku": sku, "q": 1, "channel": channel})
    return result.data["productAvailability"]["availableQuantity"]


async def cancel_order(
    server: LiveServer, order_id: str, reason: str | None = None, api_key: str | None = None
) -> Any:
    result = await server.gql(CANCEL_ORDER, {"id": order_id, "reason": reason}, key=api_key)
    return result.data["cancelOrder"]


async def cancel_line(
    server: LiveServer,
    order_id: str,
    line_id: str,
    reason: str | None = None,
    api_key: str | None = None,
) -> Any:
    result = await server.gql(
        CANCEL_LINE, {"o": order_id, "l": line_id, "reason": reason}, key=api_key
    )
    return result.data["cancelOrderLine"]


async def list_orders(server: LiveServer, api_key: str | None = None, **variables: Any) -> Any:
    result = await server.gql(ORDERS, variables, key=api_key)
    return result.data["orders"]


def numbers(connection: Any) -> list[str]:
    return [edge["node"]["number"] for edge in connection["edges"]]


def amounts(summary: dict[str, Any]) -> dict[str, int]:
    return {name: money["amountMinor"] for name, money in summary.items()}


def line_id(item: dict[str, Any]) -> str | None:
    """The id of the line a payment entry or an event is about (None: the whole order)."""
    line = item["line"]
    return None if line is None else line["id"]


def entries(order: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    return [(p["kind"], p["amount"]["amountMinor"], line_id(p)) for p in order["payments"]]


async def count(server: LiveServer, statement: str, *args: Any) -> int:
    rows = await server.sql(statement, *args)
    return int(rows[0][0])


async def assert_ledgers_agree(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    drift = await server.sql(
        """
        SELECT p.sku, ip.kind, ip.channel_code, ip.committed, COALESCE((
            SELECT sum(l.quantity) FROM order_lines l
            WHERE l.product_id = ip.product_id AND l.pool_kind = ip.kind
              AND l.pool_channel IS NOT DISTINCT FROM ip.channel_code
              AND l.status IN ('RESERVED', 'WAITING', 'ALLOCATED')), 0) AS open
        FROM inventory_pools ip JOIN products p ON p.id = ip.product_id
        WHERE ip.kind <> 'RESERVED'
        """
    )
    assert [dict(r) for r in drift if r["committed"] != r["open"]] == []
    unbalanced = await server.sql(
        """
        SELECT l.id, l.sku,
               sum(pe.amount_minor) FILTER (WHERE pe.kind = 'CAPTURE') AS captured,
               sum(pe.amount_minor) FILTER (WHERE pe.kind = 'REFUND') AS refunded,
               sum(pe.amount_minor) FILTER (WHERE pe.kind IN ('AUTHORIZE', 'REAUTHORIZE'))
                   AS authorized,
               sum(pe.amount_minor) FILTER (WHERE pe.kind = 'VOID') AS voided
        FROM order_lines l JOIN payment_entries pe ON pe.line_id = l.id
        WHERE l.status = 'CANCELLED'
        GROUP BY l.id, l.sku
        HAVING COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'CAPTURE'), 0)
                   <> COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'REFUND'), 0)
            OR COALESCE(sum(pe.amount_minor)
                   FILTER (WHERE pe.kind IN ('AUTHORIZE', 'REAUTHORIZE')), 0)
                   <> COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'VOID'), 0)
        """
    )
    assert [dict(r) for r in unbalanced] == []
