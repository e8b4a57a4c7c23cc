"""The no-answer policy for delay consent: it leaves lines cancelled meanwhile alone and does not
cancel a line whose delay is gone again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from tests.api.queue_helpers import CANCEL_ORDER, delayed_line
from tests.api.test_supply_and_allocation import (
    RUN_JOB,
    UPDATE_ETA,
    backorderable,
    days,
    events,
    fresh_line,
    line,
    place,
    product,
    purchase_order,
    read,
    run_job,
)
from tests.support import LiveServer, live_server


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    saved = server.clock.current
    yield
    server.clock.current = saved


async def test_the_no_answer_policy_leaves_lines_cancelled_meanwhile_alone(
    server: LiveServer,
) -> None:
    order = await delayed_line(server, "RV-CONSENT-CLOSED")
    gone = await server.gql(CANCEL_ORDER, {"input": {"id": order["id"], "reason": "moved on"}})
    assert gone.data["cancelOrder"]["userErrors"] == []
    server.clock.advance(days=30)

    ran = await run_job(server, "EXPIRE_DELAY_CONSENTS")

    # nothing closed for the job to take (it takes 500 a run: closed lines picked again and
    # again would starve the open ones under the CANCEL policy)
    assert ran["result"] == 0
    found = await read(server, order)
    assert line(found)["status"] == "CANCELLED"
    assert line(found)["delayConsent"] != "DEFAULT_ACCEPTED"
    assert events(found, "LINE_DELAY_ACCEPTED") == []


async def test_the_cancel_on_no_answer_policy_does_not_cancel_a_line_whose_delay_is_gone_again(
    server: LiveServer,
) -> None:
    sku = "RV-CONSENT-GONE"
    await product(server, sku, *backorderable(sku), price=2000)
    po = await purchase_order(server, sku, 10, 10, supplier="RV-GONE")
    order = await place(server, sku, 2)
    await run_job(server, "PROMISE_NEW_LINES")
    first = (await fresh_line(server, order))["deliveryEstimate"]
    for when in (60, 10):  # a long slip, then the supplier makes it after all
        moved = await server.gql(
            UPDATE_ETA,
            {"input": {"id": po["id"], "expectedOn": days(server, when), "reason": "news"}},
        )
        assert moved.data["updateSupplyEta"]["userErrors"] == []
    await run_job(server, "SEND_NOTIFICATIONS")  # the customer is told: their clock starts
    back = await fresh_line(server, order)
    assert back["delayConsent"] == "REQUESTED"
    assert back["consentDueAt"] is not None
    # within the threshold of the first promise again (a slip widens the window 3 days)
    gap = date.fromisoformat(back["deliveryEstimate"]["latest"]) - date.fromisoformat(
        first["latest"]
    )
    assert gap <= timedelta(days=14)

    async with live_server(server.database_url, delay_no_answer_policy="CANCEL") as strict:
        strict.clock.current = server.clock.current + timedelta(days=8)
        ran = await strict.gql(RUN_JOB, {"job": "EXPIRE_DELAY_CONSENTS"})
        assert ran.data["runScheduledJob"]["ran"] is True

    kept = await fresh_line(server, order)
    assert kept["status"] == "WAITING"
    assert kept["delayConsent"] == "DEFAULT_ACCEPTED"
    assert kept["paymentSummary"]["refunded"]["amountMinor"] == 0
