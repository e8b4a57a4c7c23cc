"""The tags placement puts on an order by itself: LIMITED_RUN from its products, PRIORITY from its
channel or its customer."""

from __future__ import annotations

from tests.api.placement_helpers import assert_ledgers_agree, list_orders, numbers, placed, product
from tests.support import LiveServer


async def test_a_limited_run_product_tags_the_order_limited_run(server: LiveServer) -> None:
    await product(
        server,
        "PM-LTD",
        'setStock(input: {sku: "PM-LTD", location: "main", quantity: 5})',
        create=', tags: ["LIMITED_RUN"]',
    )
    await product(
        server, "PM-PLAIN", 'setStock(input: {sku: "PM-PLAIN", location: "main", quantity: 5})'
    )
    alone = await placed(server, [{"sku": "PM-LTD", "quantity": 1}])
    assert alone["tags"] == ["LIMITED_RUN"]
    plain = await placed(server, [{"sku": "PM-PLAIN", "quantity": 1}])
    assert plain["tags"] == []
    both = await placed(
        server, [{"sku": "PM-PLAIN", "quantity": 1}, {"sku": "PM-LTD", "quantity": 1}]
    )
    assert both["tags"] == ["LIMITED_RUN"]
    assert both["events"][0]["payload"]["tags"] == ["LIMITED_RUN"]


async def test_an_order_on_a_priority_channel_is_tagged_priority(server: LiveServer) -> None:
    await product(
        server, "PM-B2B", 'setStock(input: {sku: "PM-B2B", location: "main", quantity: 9})'
    )
    wholesale = await placed(
        server, [{"sku": "PM-B2B", "quantity": 2}], channel="b2b", email="buyer@shop.example"
    )
    assert wholesale["channel"] == "b2b"
    assert wholesale["tags"] == ["PRIORITY"]
    retail = await placed(
        server, [{"sku": "PM-B2B", "quantity": 1}], channel="pos", email="buyer@shop.example"
    )
    assert retail["tags"] == []
    listed = await list_orders(server, first=50, filter={"tag": "PRIORITY", "sku": "PM-B2B"})
    assert numbers(listed) == [wholesale["number"]]


async def test_a_priority_customer_s_next_order_is_tagged_priority(server: LiveServer) -> None:
    await product(
        server, "PM-VIP", 'setStock(input: {sku: "PM-VIP", location: "main", quantity: 9})'
    )
    first = await placed(server, [{"sku": "PM-VIP", "quantity": 1}], email="grace@example.com")
    assert "PRIORITY" not in first["tags"]
    await server.sql("UPDATE customers SET priority = true WHERE email = 'grace@example.com'")
    # the e-mail is matched case-insensitively (it is normalised to lower case)
    second = await placed(
        server, [{"sku": "PM-VIP", "quantity": 1}], email="  Grace@Example.COM ", name="Grace"
    )
    assert second["tags"] == ["PRIORITY"]
    assert second["customer"] == {"email": "grace@example.com", "name": "Grace"}
    other = await placed(server, [{"sku": "PM-VIP", "quantity": 1}], email="alan@example.com")
    assert "PRIORITY" not in other["tags"]


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    await assert_ledgers_agree(server)
