"""The dispatch e-mail comes from the shipment: one per dispatched shipment, with its lines, its
carrier and the tracking link; shipped lines alone mail nothing, nor do the warehouse's other
moves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.api.mail_helpers import Sink, html_of, mail_server, send_mail, smtp_sink, text_of
from tests.api.placement_helpers import placed, product
from tests.api.shipment_helpers import (
    DISPATCH,
    HOLD,
    RELEASE,
    moved,
    open_shipments,
    the_shipment,
    to_awaiting,
)
from tests.support import LiveServer

NOTIFICATIONS = """query($filter: NotificationFilterInput) {
  notifications(first: 50, filter: $filter) {
    nodes { template status eventKind lines { id } }
  }
}"""


@pytest.fixture(scope="module")
def sink_and_port() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as found:
        yield found


@pytest_asyncio.fixture(scope="module")
async def mail(database_url: str, sink_and_port: tuple[Sink, int]) -> AsyncIterator[LiveServer]:
    async with mail_server(database_url, sink_and_port[1]) as server:
        yield server


async def test_a_dispatched_shipment_mails_its_lines_with_the_carrier_and_tracking_link(
    mail: LiveServer, sink_and_port: tuple[Sink, int]
) -> None:
    sink = sink_and_port[0]
    sku = "SH-MAIL"
    await product(mail, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 5}})')
    customer = "mail-shipment@example.com"
    order = await placed(
        mail, [{"sku": sku, "quantity": 1}, {"sku": sku, "quantity": 2}], email=customer
    )
    await open_shipments(mail)
    found = await the_shipment(mail, order["id"])
    await moved(mail, HOLD, id=found["id"], reason="OTHER")
    await moved(mail, RELEASE, id=found["id"])
    await to_awaiting(mail, found["id"])
    await moved(
        mail,
        DISPATCH,
        id=found["id"],
        carrier="PostNL",
        trackingNumber="3SABC123",
        trackingUrl="https://track.example/3SABC123",
    )

    await send_mail(mail)

    listed = (await mail.gql(NOTIFICATIONS, {"filter": {"recipient": customer}})).data[
        "notifications"
    ]["nodes"]
    dispatched = [n for n in listed if n["template"] == "DISPATCHED"]
    assert len(dispatched) == 1
    assert dispatched[0]["eventKind"] == "SHIPMENT_DISPATCHED"
    assert sorted(x["id"] for x in dispatched[0]["lines"]) == sorted(
        x["id"] for x in order["lines"]
    )
    assert sorted(n["template"] for n in listed) == ["DISPATCHED", "ORDER_CONFIRMATION"]
    (message,) = [m for m in sink.to(customer) if "on its way" in str(m["Subject"])]
    text = text_of(message)
    assert "PostNL" in text
    assert "3SABC123" in text
    assert "https://track.example/3SABC123" in text
    assert 'href="https://track.example/3SABC123"' in html_of(message)
