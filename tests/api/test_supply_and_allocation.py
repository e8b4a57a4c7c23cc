"""Goods receipt and allocation over HTTP: FIFO across backorders and released pre-orders,
partial receipts, the PRIORITY policy, receipts before a launch, pause/resume, cancellation
handing units on, supply records with promises that follow them, delay consent,
available-to-promise, dispatch and delivery, bad input and auth, and the invariants after all.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from app.services.invariants import check
from tests.support import LiveServer

SUMMARY = (
    "captured { amountMinor } authorized { amountMinor } refunded { amountMinor } "
    "voided { amountMinor } dueAtDispatch { amountMinor }"
)

LINE_FIELDS = f"""
  id lineNumber subNumber sku quantity state status queuePosition unitsAhead reservedPool
  allocatedQuantity paused delayConsent consentDueAt shippedAt deliveredOn
  deliveryEstimate {{ earliest latest reason confidence }}
  promiseHistory {{ earliest latest confidence cause delayedDays reason }}
  paymentSummary {{ {SUMMARY} }}
"""

ORDER_FIELDS = f"""
  id number status tags
  lines {{ {LINE_FIELDS} }}
  payments {{ kind amount {{ amountMinor }} line {{ id }} note }}
  paymentSummary {{ {SUMMARY} }}
  events {{ kind actor line {{ id }} before payload }}
"""

PLACE = f"""
mutation Place($input: PlaceOrderInput!) {{
  placeOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }}
}}
"""

ORDER = f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"

RECEIPT_FIELDS = """
  id sku quantity allocated heldForLaunch toStock supply { id }
  allocations {
    orderNumber order { id } line { id } quantity lineAllocated lineQuantity fullyAllocated
  }
"""

RECEIVE = f"""
mutation($input: ReceiveGoodsInput!) {{
  receiveGoods(input: $input) {{ receipt {{ {RECEIPT_FIELDS} }} userErrors {{ field code message }} }}
}}
"""

SUPPLY_FIELDS = """
  id kind sku location reference quantity receivedQuantity remainingQuantity expectedOn
  originalExpectedOn supplierLeadTimeDays unitsPerDay runDays status slips
  supplier { code name receipts onTimeReceipts onTimeRate }
  history { kind actor before payload }
"""

CREATE_PO = f"""
mutation($input: CreatePurchaseOrderInput!) {{
  createPurchaseOrder(input: $input) {{ supply {{ {SUPPLY_FIELDS} }} userErrors {{ field code message }} }}
}}
"""

SCHEDULE_RUN = f"""
mutation($input: ScheduleProductionRunInput!) {{
  scheduleProductionRun(input: $input) {{ supply {{ {SUPPLY_FIELDS} }} userErrors {{ field code message }} }}
}}
"""

UPDATE_ETA = f"""
mutation($input: UpdateSupplyEtaInput!) {{
  updateSupplyEta(input: $input) {{ supply {{ {SUPPLY_FIELDS} }} userErrors {{ field code message }} }}
}}
"""

CANCEL_SUPPLY = f"""
mutation($input: CancelSupplyInput!) {{
  cancelSupply(input: $input) {{ supply {{ {SUPPLY_FIELDS} }} userErrors {{ field code message }} }}
}}
"""

SUPPLY_QUERY = f"""
query($sku: String, $status: SupplyStatus) {{
  supply(sku: $sku, status: $status) {{ nodes {{ {SUPPLY_FIELDS} }} }}
}}
"""

SET_POLICY = """
mutation($sku: String!, $policy: AllocationPolicy!) {
  setAllocationPolicy(input: {sku: $sku, policy: $policy}) {
    product { sku } policy userErrors { field code message }
  }
}
"""

RUN_JOB = "mutation($job: ScheduledJob!) { runScheduledJob(input: {job: $job}) { job ran result } }"


def order_mutation(name: str, input_type: str) -> str:
    return f"""
mutation($input: {input_type}!) {{
  {name}(input: $input) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }}
}}
"""


PAUSE_ORDER = f"""
mutation($id: ID!) {{
  pauseOrder(input: {{id: $id}}) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }}
}}
"""
RESUME_ORDER = f"""
mutation($id: ID!) {{
  resumeOrder(input: {{id: $id}}) {{ order {{ {ORDER_FIELDS} }} userErrors {{ field code message }} }}
}}
"""
PAUSE_LINE = order_mutation("pauseOrderLine", "PauseOrderLineInput")
RESUME_LINE = order_mutation("resumeOrderLine", "ResumeOrderLineInput")
CANCEL_LINE = order_mutation("cancelOrderLine", "CancelOrderLineInput")
TAG_ORDER = order_mutation("tagOrder", "TagOrderInput")
RESPOND = order_mutation("respondToDelay", "RespondToDelayInput")
DISPATCH = order_mutation("dispatchOrderLines", "DispatchOrderLinesInput")
CONFIRM = order_mutation("confirmDelivery", "ConfirmDeliveryInput")

POOLS = """query($sku: String!) {
  product(sku: $sku) { onHand pools { kind channel capacity committed available } }
}"""

AVAILABILITY = """query($sku: String!, $q: Int!) {
  productAvailability(sku: $sku, quantity: $q) {
    state availableQuantity released split { state quantity }
  }
}"""

ATP = """query($sku: String!) {
  availableToPromise(sku: $sku) { sku entries { date quantity } }
}"""

ACCURACY = """query($sku: String) {
  promiseAccuracy(sku: $sku) {
    sku deliveredLines onTimeLines averageDeviationPercent targetPercent meetsTarget
  }
}"""


# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    """The server is shared by the module: a test that moves the clock puts it back."""
    saved = server.clock.current
    yield
    server.clock.current = saved


def today(server: LiveServer) -> date:
    return server.services.today()


def days(server: LiveServer, n: int) -> str:
    return (today(server) + timedelta(days=n)).isoformat()


def db_id(global_id: str) -> int:
    return int(base64.urlsafe_b64decode(global_id).decode().split(":", 1)[1])


async def product(server: LiveServer, sku: str, *mutations: str, price: int = 1000) -> None:
    """Create a SKU and run admin mutations on it, in order; each must succeed."""
    body = " ".join(
        [
            f'a: createProduct(input: {{sku: "{sku}", name: "{sku}", '
            f"price: {{amountMinor: {price}, currency: EUR}}}}) "
            "{ userErrors { code message } }"
        ]
        + [f"m{i}: {m} {{ userErrors {{ code message }} }}" for i, m in enumerate(mutations)]
    )
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


def backorderable(sku: str, stock: int = 0, terms: str = "") -> tuple[str, str]:
    return (
        f'setStock(input: {{sku: "{sku}", location: "main", quantity: {stock}}})',
        f'configureBackorder(input: {{sku: "{sku}", allowed: true {terms}}})',
    )


async def place(
    server: LiveServer,
    sku: str,
    quantity: int,
    *,
    key: str | None = None,
    channel: str = "webstore",
    email: str = "ada@example.com",
) -> dict[str, Any]:
    data = {
        "idempotencyKey": str(uuid.uuid4()),
        "channel": channel,
        "customer": {"email": email, "name": "Ada"},
        "shippingAddress": {"region": "EU", "postalCode": "1011"},
        "lines": [{"sku": sku, "quantity": quantity}],
    }
    result = await server.gql(PLACE, {"input": data}, key=key)
    payload = result.data["placeOrder"]
    assert payload["userErrors"] == [], payload["userErrors"]
    order: dict[str, Any] = payload["order"]
    return order


async def read(server: LiveServer, order: dict[str, Any]) -> dict[str, Any]:
    result = await server.gql(ORDER, {"id": order["id"]})
    fresh: dict[str, Any] = result.data["order"]
    return fresh


def line(order: dict[str, Any], index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = order["lines"][index]
    return found


async def fresh_line(server: LiveServer, order: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return line(await read(server, order), index)


async def receive(
    server: LiveServer,
    sku: str,
    quantity: int,
    *,
    location: str = "main",
    supply_id: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """The receiveGoods payload (receipt and userErrors)."""
    data = {
        "sku": sku,
        "quantity": quantity,
        "location": location,
        "reference": f"GRN-{uuid.uuid4().hex[:8]}",
        "supplyId": supply_id,
    }
    result = await server.gql(RECEIVE, {"input": data}, key=key)
    payload: dict[str, Any] = result.data["receiveGoods"]
    return payload


async def received(server: LiveServer, sku: str, quantity: int, **extra: Any) -> dict[str, Any]:
    payload = await receive(server, sku, quantity, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    receipt: dict[str, Any] = payload["receipt"]
    return receipt


async def mutate(server: LiveServer, document: str, field: str, **variables: Any) -> Any:
    """A mutation that must succeed: its payload."""
    result = await server.gql(document, variables)
    payload = result.data[field]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def purchase_order(
    server: LiveServer, sku: str, quantity: int, expected_in_days: int, **extra: Any
) -> dict[str, Any]:
    data = {
        "sku": sku,
        "quantity": quantity,
        "location": "main",
        "supplier": {"code": extra.pop("supplier", "ACME"), "name": "Acme Ltd"},
        "expectedOn": days(server, expected_in_days),
        **extra,
    }
    payload = await mutate(server, CREATE_PO, "createPurchaseOrder", input=data)
    supply: dict[str, Any] = payload["supply"]
    return supply


async def run_job(server: LiveServer, job: str) -> dict[str, Any]:
    result = await server.gql(RUN_JOB, {"job": job})
    payload: dict[str, Any] = result.data["runScheduledJob"]
    assert payload["ran"] is True, payload
    return payload


async def pool_view(server: LiveServer, sku: str) -> dict[str, Any]:
    result = await server.gql(POOLS, {"sku": sku})
    product_data = result.data["product"]
    return {
        "onHand": product_data["onHand"],
        **{(p["channel"] or p["kind"]): p for p in product_data["pools"]},
    }


async def availability(server: LiveServer, sku: str, quantity: int = 1) -> dict[str, Any]:
    result = await server.gql(AVAILABILITY, {"sku": sku, "q": quantity})
    found: dict[str, Any] = result.data["productAvailability"]
    return found


def allocation_summary(receipt: dict[str, Any]) -> list[tuple[str, int, int, bool]]:
    return [
        (a["orderNumber"], a["quantity"], a["lineAllocated"], a["fullyAllocated"])
        for a in receipt["allocations"]
    ]


def status(found: dict[str, Any]) -> tuple[str, int]:
    return found["status"], found["allocatedQuantity"]


def events(order: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in order["events"] if e["kind"] == kind]


# ---------------------------------------------------------------- 1. FIFO receipt


async def test_a_receipt_serves_released_preorders_and_backorders_in_queue_order_and_only_the_rest_reopens_as_ready(
    server: LiveServer,
) -> None:
    sku = "SA-FIFO"
    await product(
        server,
        sku,
        f'setStock(input: {{sku: "{sku}", location: "main", quantity: 0}})',
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, releaseDate: "{days(server, 5)}", cap: 20}})',
    )
    pre1 = await place(server, sku, 2)
    pre2 = await place(server, sku, 1)
    assert [line(pre1)["state"], line(pre2)["state"]] == ["PRE_ORDER", "PRE_ORDER"]

    server.clock.advance(days=5)
    await run_job(server, "RELEASE_PREORDERS")
    await mutate(
        server,
        f'mutation {{ configureBackorder(input: {{sku: "{sku}", allowed: true}}) {{ userErrors {{ field code message }} }} }}',
        "configureBackorder",
    )
    back1 = await place(server, sku, 3)
    back2 = await place(server, sku, 1)
    assert [line(back1)["state"], line(back2)["state"]] == ["BACKORDER", "BACKORDER"]
    assert [line(back1)["queuePosition"], line(back2)["queuePosition"]] == [3, 4]

    receipt = await received(server, sku, 9)

    assert (receipt["quantity"], receipt["allocated"], receipt["heldForLaunch"]) == (9, 7, 0)
    assert receipt["toStock"] == 2
    assert allocation_summary(receipt) == [
        (pre1["number"], 2, 2, True),
        (pre2["number"], 1, 1, True),
        (back1["number"], 3, 3, True),
        (back2["number"], 1, 1, True),
    ]
    assert [a["line"]["id"] for a in receipt["allocations"]] == [
        line(o)["id"] for o in (pre1, pre2, back1, back2)
    ]
    for order, quantity in ((pre1, 2), (pre2, 1), (back1, 3), (back2, 1)):
        found = await fresh_line(server, order)
        assert status(found) == ("ALLOCATED", quantity)
        assert found["queuePosition"] is None
        assert found["deliveryEstimate"]["confidence"] == "HIGH"

    view = await pool_view(server, sku)
    assert view["onHand"] == 9
    assert view["RESERVED"]["committed"] == 7
    assert (view["READY"]["capacity"], view["READY"]["committed"]) == (2, 0)
    assert view["READY"]["available"] == 2
    assert (await availability(server, sku, 2))["state"] == "IN_STOCK"
    shown = await availability(server, sku, 3)
    assert shown["split"] == [
        {"state": "IN_STOCK", "quantity": 2},
        {"state": "BACKORDER", "quantity": 1},
    ]
    allocated_events = events(await read(server, back1), "LINE_ALLOCATED")
    assert allocated_events[0]["payload"]["cause"] == "RECEIPT"
    assert allocated_events[0]["payload"]["units"] == 3


async def test_a_receipt_never_gives_a_waiting_line_units_held_for_another_channel(
    server: LiveServer,
) -> None:
    sku = "SA-HOLD"
    await product(
        server,
        sku,
        *backorderable(sku, stock=5),
        f'allocateChannelPool(input: {{sku: "{sku}", channel: "marketplace", quantity: 3}})',
    )
    order = await place(server, sku, 4)  # webstore: 2 shared READY + 2 BACKORDER
    assert [(x["state"], x["quantity"]) for x in order["lines"]] == [
        ("READY", 2),
        ("BACKORDER", 2),
    ]

    receipt = await received(server, sku, 1)
    assert allocation_summary(receipt) == [(order["number"], 1, 1, False)]
    assert (receipt["allocated"], receipt["toStock"]) == (1, 0)
    view = await pool_view(server, sku)
    assert (view["marketplace"]["capacity"], view["marketplace"]["committed"]) == (3, 0)
    assert (view["READY"]["capacity"], view["READY"]["committed"]) == (2, 2)
    assert view["RESERVED"]["committed"] == 1
    # 6 on hand = 2 sold + 1 ring-fenced + 3 held: nothing promised twice
    assert view["onHand"] == 2 + 1 + 3
    assert await check(server.services) == []


# ---------------------------------------------------------------- 2. partial receipt


async def test_a_partially_allocated_line_stays_waiting_and_the_next_receipt_completes_it_first(
    server: LiveServer,
) -> None:
    sku = "SA-PART"
    await product(server, sku, *backorderable(sku))
    first = await place(server, sku, 5)
    second = await place(server, sku, 2)

    receipt = await received(server, sku, 3)
    assert allocation_summary(receipt) == [(first["number"], 3, 3, False)]
    assert (receipt["allocated"], receipt["toStock"]) == (3, 0)
    partial = await fresh_line(server, first)
    assert status(partial) == ("WAITING", 3)
    assert (partial["queuePosition"], partial["unitsAhead"]) == (1, 0)
    behind = await fresh_line(server, second)
    assert status(behind) == ("WAITING", 0)
    assert (behind["queuePosition"], behind["unitsAhead"]) == (2, 2)
    assert (await pool_view(server, sku))["RESERVED"]["committed"] == 3

    receipt = await received(server, sku, 3)
    assert allocation_summary(receipt) == [
        (first["number"], 2, 5, True),
        (second["number"], 1, 1, False),
    ]
    assert status(await fresh_line(server, first)) == ("ALLOCATED", 5)
    assert status(await fresh_line(server, second)) == ("WAITING", 1)
    view = await pool_view(server, sku)
    assert view["RESERVED"]["committed"] == 6
    assert view["READY"]["capacity"] == 0
    assert (await availability(server, sku))["state"] == "BACKORDER"


# ---------------------------------------------------------------- 3. PRIORITY policy


async def test_priority_first_serves_priority_tagged_orders_before_earlier_ones_and_fifo_does_not(
    server: LiveServer,
) -> None:
    marketplace = await server.key_with("channel:marketplace")
    await product(server, "SA-PRIO-SEED", *backorderable("SA-PRIO-SEED"))
    await place(server, "SA-PRIO-SEED", 1, email="vip@example.com")  # the customer exists
    await mutate(
        server,
        'mutation { setCustomerPriority(input: {email: "vip@example.com", priority: true}) '
        "{ email priority userErrors { field code message } } }",
        "setCustomerPriority",
    )
    outcome: dict[str, list[str]] = {}
    for sku, policy in (("SA-PRIO", "PRIORITY_FIRST"), ("SA-FIFOP", "FIFO")):
        await product(server, sku, *backorderable(sku))
        payload = await mutate(server, SET_POLICY, "setAllocationPolicy", sku=sku, policy=policy)
        assert payload["policy"] == policy
        plain = await place(server, sku, 2)
        vip = await place(
            server, sku, 2, key=marketplace, channel="marketplace", email="vip@example.com"
        )
        assert "PRIORITY" in vip["tags"]
        tagged = await place(server, sku, 2)
        assert "PRIORITY" not in tagged["tags"]
        retagged = await mutate(
            server, TAG_ORDER, "tagOrder", input={"id": tagged["id"], "add": ["priority"]}
        )
        assert "PRIORITY" in retagged["order"]["tags"]
        names = {plain["number"]: "plain", vip["number"]: "vip", tagged["number"]: "tagged"}
        positions = [
            (names[o["number"]], (await fresh_line(server, o))["queuePosition"])
            for o in (plain, vip, tagged)
        ]
        outcome[f"{policy} positions"] = [n for n, _ in sorted(positions, key=lambda x: x[1])]
        ahead = [(await fresh_line(server, o))["unitsAhead"] for o in (plain, vip, tagged)]
        outcome[f"{policy} units ahead"] = [str(n) for n in ahead]
        served = []
        for _ in range(3):
            receipt = await received(server, sku, 2)
            served += [names[a["orderNumber"]] for a in receipt["allocations"]]
        outcome[policy] = served
        assert status(await fresh_line(server, plain)) == ("ALLOCATED", 2)

    assert outcome["PRIORITY_FIRST"] == ["vip", "tagged", "plain"]
    assert outcome["FIFO"] == ["plain", "vip", "tagged"]
    # queuePosition (1 = next to be served) and unitsAhead follow the policy's order
    assert outcome["PRIORITY_FIRST positions"] == outcome["PRIORITY_FIRST"]
    assert outcome["PRIORITY_FIRST units ahead"] == ["4", "0", "2"]
    assert outcome["FIFO positions"] == outcome["FIFO"]
    assert outcome["FIFO units ahead"] == ["0", "2", "4"]


# ---------------------------------------------------------------- 4. receipt before launch


async def test_a_receipt_before_the_launch_is_held_for_the_preorders_until_the_release_job_serves_them(
    server: LiveServer,
) -> None:
    sku = "SA-LAUNCH"
    await product(
        server,
        sku,
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, releaseDate: "{days(server, 10)}", cap: 50}})',
    )
    first = await place(server, sku, 2)
    second = await place(server, sku, 3)

    receipt = await received(server, sku, 8)
    assert (receipt["allocated"], receipt["heldForLaunch"], receipt["toStock"]) == (0, 8, 0)
    assert receipt["allocations"] == []
    assert status(await fresh_line(server, first)) == ("WAITING", 0)
    shown = await availability(server, sku)
    assert (shown["state"], shown["released"]) == ("PRE_ORDER", False)
    view = await pool_view(server, sku)
    assert view["onHand"] == 8
    assert (view["READY"]["capacity"], view["RESERVED"]["committed"]) == (0, 0)

    # Launch day, but the release job has not run: still nothing sold as READY.
    server.clock.advance(days=10)
    shown = await availability(server, sku)
    assert shown["state"] != "IN_STOCK"
    assert shown["released"] is False
    assert (await pool_view(server, sku))["READY"]["capacity"] == 0
    early = await place(server, sku, 1)
    assert line(early)["state"] != "READY"
    assert line(early)["status"] == "WAITING"

    job = await run_job(server, "RELEASE_PREORDERS")
    assert sku in job["result"]
    for order, quantity in ((first, 2), (second, 3), (early, 1)):
        assert status(await fresh_line(server, order)) == ("ALLOCATED", quantity)
    assert events(await read(server, first), "LINE_RELEASED")
    view = await pool_view(server, sku)
    assert view["RESERVED"]["committed"] == 6
    assert view["READY"]["capacity"] == 2
    shown = await availability(server, sku)
    assert (shown["state"], shown["availableQuantity"], shown["released"]) == ("IN_STOCK", 2, True)
    released = await server.sql(
        "SELECT count(*) FROM events WHERE kind = 'sku.released' AND subject_id = $1", sku
    )
    assert released[0][0] == 1


async def test_a_receipt_on_the_launch_day_before_the_release_job_serves_the_preorders_and_holds_the_rest(
    server: LiveServer,
) -> None:
    sku = "SA-LAUNCH-DAY"
    await product(
        server,
        sku,
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, releaseDate: "{days(server, 2)}", cap: 50}})',
    )
    first = await place(server, sku, 2)
    server.clock.advance(days=2)

    receipt = await received(server, sku, 5)
    assert allocation_summary(receipt) == [(first["number"], 2, 2, True)]
    assert (receipt["allocated"], receipt["heldForLaunch"], receipt["toStock"]) == (2, 3, 0)
    assert (await pool_view(server, sku))["READY"]["capacity"] == 0
    assert (await availability(server, sku))["released"] is False

    await run_job(server, "RELEASE_PREORDERS")
    view = await pool_view(server, sku)
    assert (view["READY"]["capacity"], view["RESERVED"]["committed"]) == (3, 2)
    later = await received(server, sku, 1)
    assert (later["allocated"], later["heldForLaunch"], later["toStock"]) == (0, 0, 1)


# ---------------------------------------------------------------- 5. pause / resume


async def test_a_paused_line_keeps_its_place_is_skipped_and_is_served_first_again_once_resumed(
    server: LiveServer,
) -> None:
    sku = "SA-PAUSE"
    await product(server, sku, *backorderable(sku))
    a, b, c, d = [await place(server, sku, 1) for _ in range(4)]
    assert (await fresh_line(server, c))["queuePosition"] == 3

    paused = await mutate(server, PAUSE_ORDER, "pauseOrder", id=b["id"])
    assert line(paused["order"])["paused"] is True
    assert events(paused["order"], "LINE_PAUSED")
    assert (await fresh_line(server, c))["queuePosition"] == 2
    assert (await fresh_line(server, d))["queuePosition"] == 3

    first = await received(server, sku, 1)
    assert [x["orderNumber"] for x in first["allocations"]] == [a["number"]]
    second = await received(server, sku, 1)
    assert [x["orderNumber"] for x in second["allocations"]] == [c["number"]]
    assert status(await fresh_line(server, b)) == ("WAITING", 0)

    resumed = await mutate(server, RESUME_ORDER, "resumeOrder", id=b["id"])
    assert line(resumed["order"])["paused"] is False
    assert line(resumed["order"])["queuePosition"] == 1
    assert (await fresh_line(server, d))["queuePosition"] == 2
    third = await received(server, sku, 1)
    assert [x["orderNumber"] for x in third["allocations"]] == [b["number"]]
    assert status(await fresh_line(server, d)) == ("WAITING", 0)


async def test_pausing_an_allocated_line_hands_its_units_to_the_next_in_line(
    server: LiveServer,
) -> None:
    sku = "SA-PAUSE-ALLOC"
    await product(server, sku, *backorderable(sku))
    first = await place(server, sku, 2)
    second = await place(server, sku, 2)
    await received(server, sku, 2)
    assert status(await fresh_line(server, first)) == ("ALLOCATED", 2)

    ref = {"orderId": first["id"], "lineId": line(first)["id"]}
    paused = await mutate(server, PAUSE_LINE, "pauseOrderLine", input=ref)
    twice = await server.gql(PAUSE_LINE, {"input": ref})
    assert twice.data["pauseOrderLine"]["userErrors"][0]["code"] == "NOTHING_TO_PAUSE"
    assert status(line(paused["order"])) == ("WAITING", 0)
    assert line(paused["order"])["paused"] is True
    unallocated = events(paused["order"], "LINE_UNALLOCATED")
    assert unallocated[0]["before"] == {"allocated": 2}
    assert unallocated[0]["payload"]["cause"] == "PAUSE"
    moved = await read(server, second)
    assert status(line(moved)) == ("ALLOCATED", 2)
    assert events(moved, "LINE_ALLOCATED")[0]["payload"]["cause"] == "PAUSE"
    assert (await pool_view(server, sku))["RESERVED"]["committed"] == 2
    ledger = await server.sql(
        "SELECT sum(a.quantity) FROM allocations a JOIN order_lines l ON l.id = a.line_id "
        "WHERE l.sku = $1 GROUP BY a.line_id ORDER BY a.line_id",
        sku,
    )
    assert [r[0] for r in ledger] == [0, 2]

    resumed = await mutate(server, RESUME_LINE, "resumeOrderLine", input=ref)
    assert status(line(resumed["order"])) == ("WAITING", 0)
    assert line(resumed["order"])["queuePosition"] == 1
    receipt = await received(server, sku, 2)
    assert [x["orderNumber"] for x in receipt["allocations"]] == [first["number"]]

    nothing = await server.gql(RESUME_LINE, {"input": ref})
    assert nothing.data["resumeOrderLine"]["userErrors"][0]["code"] == "NOTHING_TO_RESUME"


# ---------------------------------------------------------------- 6. cancellation hands units on


async def test_cancelling_an_allocated_backorder_hands_its_units_to_the_next_waiting_line(
    server: LiveServer,
) -> None:
    sku = "SA-CXL-ALLOC"
    await product(server, sku, *backorderable(sku))
    first = await place(server, sku, 2)
    second = await place(server, sku, 2)
    await received(server, sku, 2)

    payload = await mutate(
        server,
        CANCEL_LINE,
        "cancelOrderLine",
        input={"orderId": first["id"], "lineId": line(first)["id"], "reason": "changed mind"},
    )
    assert status(line(payload["order"])) == ("CANCELLED", 0)
    assert events(payload["order"], "LINE_UNALLOCATED")[0]["payload"]["cause"] == "CANCELLATION"
    moved = await read(server, second)
    assert status(line(moved)) == ("ALLOCATED", 2)
    assert events(moved, "LINE_ALLOCATED")[0]["payload"]["cause"] == "CANCELLATION"
    view = await pool_view(server, sku)
    assert view["RESERVED"]["committed"] == 2
    assert (view["READY"]["capacity"], view["BACKORDER"]["committed"]) == (0, 2)


async def test_cancelling_a_ready_line_while_backorders_wait_allocates_the_unit_instead_of_reopening_it(
    server: LiveServer,
) -> None:
    sku = "SA-CXL-READY"
    await product(server, sku, *backorderable(sku, stock=1))
    ready = await place(server, sku, 1)
    assert line(ready)["state"] == "READY"
    waiting = await place(server, sku, 1)
    assert line(waiting)["state"] == "BACKORDER"

    await mutate(
        server,
        CANCEL_LINE,
        "cancelOrderLine",
        input={"orderId": ready["id"], "lineId": line(ready)["id"]},
    )
    assert status(await fresh_line(server, waiting)) == ("ALLOCATED", 1)
    view = await pool_view(server, sku)
    assert view["READY"]["capacity"] == 0
    assert view["READY"]["committed"] == 0
    assert view["RESERVED"]["committed"] == 1
    assert (await availability(server, sku))["state"] == "BACKORDER"


# ---------------------------------------------------------------- 7. supply and promises


async def test_supply_records_are_created_queried_moved_and_cancelled_with_their_history(
    server: LiveServer,
) -> None:
    sku = "SA-SUPPLY"
    await product(server, sku, *backorderable(sku))
    po = await purchase_order(server, sku, 10, 20, reference="PO-77", supplierLeadTimeDays=12)
    assert (po["kind"], po["sku"], po["location"], po["reference"]) == (
        "PURCHASE_ORDER",
        sku,
        "main",
        "PO-77",
    )
    assert (po["quantity"], po["receivedQuantity"], po["remainingQuantity"]) == (10, 0, 10)
    assert po["expectedOn"] == po["originalExpectedOn"] == days(server, 20)
    assert (po["status"], po["slips"], po["supplierLeadTimeDays"]) == ("OPEN", 0, 12)
    assert po["supplier"]["code"] == "ACME"
    assert [h["kind"] for h in po["history"]] == ["SUPPLY_CREATED"]

    defaulted = await purchase_order(server, sku, 4, 0, supplier="SLOWCO", supplierLeadTimeDays=30)
    assert defaulted["expectedOn"] == days(server, 0)
    data = {
        "sku": sku,
        "quantity": 4,
        "location": "main",
        "supplier": {"code": "SLOWCO"},
    }
    by_lead = await mutate(server, CREATE_PO, "createPurchaseOrder", input=data)
    assert by_lead["supply"]["expectedOn"] == days(server, 30)

    run = await mutate(
        server,
        SCHEDULE_RUN,
        "scheduleProductionRun",
        input={
            "sku": sku,
            "startOn": days(server, 3),
            "unitsPerDay": 5,
            "runDays": 4,
            "location": "main",
        },
    )
    assert (run["supply"]["kind"], run["supply"]["quantity"]) == ("PRODUCTION_RUN", 20)
    assert (run["supply"]["unitsPerDay"], run["supply"]["runDays"]) == (5, 4)
    assert run["supply"]["expectedOn"] == days(server, 3)

    moved = await mutate(
        server,
        UPDATE_ETA,
        "updateSupplyEta",
        input={"id": po["id"], "expectedOn": days(server, 26), "reason": "port congestion"},
    )
    assert (moved["supply"]["expectedOn"], moved["supply"]["slips"]) == (days(server, 26), 1)
    assert moved["supply"]["originalExpectedOn"] == days(server, 20)
    change = moved["supply"]["history"][-1]
    assert change["kind"] == "SUPPLY_ETA_CHANGED"
    assert change["before"] == {"expectedOn": days(server, 20)}
    assert change["payload"] == {"expectedOn": days(server, 26), "reason": "port congestion"}
    pulled = await mutate(
        server,
        UPDATE_ETA,
        "updateSupplyEta",
        input={"id": po["id"], "expectedOn": days(server, 22), "reason": "air freight"},
    )
    assert pulled["supply"]["slips"] == 1

    cancelled = await mutate(
        server, CANCEL_SUPPLY, "cancelSupply", input={"id": defaulted["id"], "reason": "dup"}
    )
    assert cancelled["supply"]["status"] == "CANCELLED"
    assert cancelled["supply"]["history"][-1]["payload"] == {"status": "CANCELLED", "reason": "dup"}

    listed = await server.gql(SUPPLY_QUERY, {"sku": sku})
    nodes = listed.data["supply"]["nodes"]
    assert [n["id"] for n in nodes] == [
        po["id"],
        defaulted["id"],
        by_lead["supply"]["id"],
        run["supply"]["id"],
    ]
    open_only = await server.gql(SUPPLY_QUERY, {"sku": sku, "status": "OPEN"})
    assert len(open_only.data["supply"]["nodes"]) == 3

    receipt = await received(server, sku, 4, supply_id=po["id"])
    assert receipt["supply"]["id"] == po["id"]
    listed = await server.gql(SUPPLY_QUERY, {"sku": sku})
    after = next(n for n in listed.data["supply"]["nodes"] if n["id"] == po["id"])
    assert (after["receivedQuantity"], after["remainingQuantity"], after["status"]) == (
        4,
        6,
        "OPEN",
    )
    assert after["history"][-1]["kind"] == "SUPPLY_RECEIVED"
    assert after["supplier"]["receipts"] >= 1


async def test_a_slip_repromises_waiting_lines_later_with_a_delay_event_and_pull_ins_improve_them_silently(
    server: LiveServer,
) -> None:
    sku = "SA-SLIP"
    await product(server, sku, *backorderable(sku))
    po = await purchase_order(server, sku, 10, 20, supplier="SLIPCO")
    first = await place(server, sku, 2)
    second = await place(server, sku, 3)
    # the first promise is recorded by the placement itself; the job finds nothing to do
    assert [p["cause"] for p in (await fresh_line(server, first))["promiseHistory"]] == ["PLACED"]

    await run_job(server, "PROMISE_NEW_LINES")
    promised = await fresh_line(server, second)
    assert [p["cause"] for p in promised["promiseHistory"]] == ["PLACED"]
    before = promised["deliveryEstimate"]
    assert before["earliest"] is not None
    assert before["latest"] == promised["promiseHistory"][0]["latest"]

    await mutate(
        server,
        UPDATE_ETA,
        "updateSupplyEta",
        input={"id": po["id"], "expectedOn": days(server, 25), "reason": "late vessel"},
    )
    slipped = await read(server, second)
    later = line(slipped)
    assert later["deliveryEstimate"]["latest"] > before["latest"]
    assert later["deliveryEstimate"]["earliest"] > before["earliest"]
    change = later["promiseHistory"][-1]
    assert change["cause"] == "SUPPLY_SLIPPED"
    assert change["delayedDays"] >= 5
    assert later["delayConsent"] is None  # within the 14-day threshold
    delayed = events(slipped, "LINE_DELIVERY_DELAYED")
    assert len(delayed) == 1
    assert delayed[0]["payload"]["cause"] == "SUPPLY_SLIPPED"
    assert delayed[0]["payload"]["delayedDays"] == change["delayedDays"]
    ledger = await server.sql(
        "SELECT payload FROM events WHERE kind = 'line.delivery_delayed' AND line_id = $1",
        db_id(later["id"]),
    )
    assert len(ledger) == 1
    assert '"SUPPLY_SLIPPED"' in ledger[0][0]

    await mutate(
        server,
        UPDATE_ETA,
        "updateSupplyEta",
        input={"id": po["id"], "expectedOn": days(server, 22), "reason": "rerouted"},
    )
    pulled_order = await read(server, second)
    pulled = line(pulled_order)
    assert pulled["promiseHistory"][-1]["cause"] == "SUPPLY_PULLED_IN"
    assert pulled["promiseHistory"][-1]["delayedDays"] == 0
    assert pulled["deliveryEstimate"]["latest"] < later["deliveryEstimate"]["latest"]
    assert len(events(pulled_order, "LINE_DELIVERY_DELAYED")) == 1  # no delay told
    assert len(events(pulled_order, "LINE_PROMISE_CHANGED")) == 1  # but recorded

    await purchase_order(server, sku, 5, 8, supplier="FASTCO")
    improved_order = await read(server, first)
    improved = line(improved_order)
    assert improved["promiseHistory"][-1]["cause"] == "SUPPLY_ADDED"
    assert improved["promiseHistory"][-1]["delayedDays"] == 0
    assert improved["deliveryEstimate"]["latest"] < pulled["deliveryEstimate"]["latest"]
    assert len(events(improved_order, "LINE_DELIVERY_DELAYED")) == 1
    ledger = await server.sql(
        "SELECT count(*) FROM events WHERE kind = 'line.delivery_delayed' "
        "AND line_id = ANY($1::bigint[])",
        [db_id(line(o)["id"]) for o in (first, second)],
    )
    assert ledger[0][0] == 2  # one each, for the slip only


# ---------------------------------------------------------------- 8. delay consent


async def test_a_long_slip_asks_for_consent_and_accept_cancel_and_no_answer_each_end_it(
    server: LiveServer,
) -> None:
    sku = "SA-CONSENT"
    await product(server, sku, *backorderable(sku), price=2000)
    po = await purchase_order(server, sku, 10, 10, supplier="CONSENTCO")
    first = await place(server, sku, 2)
    second = await place(server, sku, 2)
    third = await place(server, sku, 2)
    receipt = await received(server, sku, 1)
    assert allocation_summary(receipt) == [(first["number"], 1, 1, False)]
    await run_job(server, "PROMISE_NEW_LINES")

    never_delayed = await fresh_line(server, first)
    refused = await server.gql(
        RESPOND, {"input": {"orderLineId": never_delayed["id"], "decision": "ACCEPT"}}
    )
    errors = refused.data["respondToDelay"]["userErrors"]
    assert [e["code"] for e in errors] == ["NO_DELAY_PENDING"]

    await mutate(
        server,
        UPDATE_ETA,
        "updateSupplyEta",
        input={"id": po["id"], "expectedOn": days(server, 40), "reason": "factory fire"},
    )
    for order in (first, second, third):
        asked = await fresh_line(server, order)
        assert asked["delayConsent"] == "REQUESTED", asked
        assert asked["consentDueAt"] is None  # until the customer is told
    await run_job(server, "SEND_NOTIFICATIONS")
    for order in (first, second, third):
        found = await fresh_line(server, order)
        assert found["consentDueAt"] is not None
        assert found["promiseHistory"][-1]["delayedDays"] > 14

    accepted = await mutate(
        server,
        RESPOND,
        "respondToDelay",
        input={"orderLineId": line(second)["id"], "decision": "ACCEPT"},
    )
    assert line(accepted["order"])["delayConsent"] == "ACCEPTED"
    assert line(accepted["order"])["status"] == "WAITING"
    assert events(accepted["order"], "LINE_DELAY_ACCEPTED")

    declined = await mutate(
        server,
        RESPOND,
        "respondToDelay",
        input={"orderLineId": line(first)["id"], "decision": "CANCEL"},
    )
    gone = line(declined["order"])
    assert (gone["status"], gone["delayConsent"]) == ("CANCELLED", "CANCELLED")
    ledger = [(p["kind"], p["amount"]["amountMinor"]) for p in declined["order"]["payments"]]
    assert ledger == [("CAPTURE", 4000), ("REFUND", 4000)]
    assert "declined the delay" in declined["order"]["payments"][1]["note"]
    assert gone["paymentSummary"]["refunded"]["amountMinor"] == 4000
    handed = await fresh_line(server, second)
    assert status(handed) == ("WAITING", 1)  # the cancelled line's unit went on

    again = await server.gql(
        RESPOND, {"input": {"orderLineId": line(second)["id"], "decision": "CANCEL"}}
    )
    assert again.data["respondToDelay"]["userErrors"][0]["code"] == "NO_DELAY_PENDING"

    server.clock.advance(days=3)
    await run_job(server, "EXPIRE_DELAY_CONSENTS")
    assert (await fresh_line(server, third))["delayConsent"] == "REQUESTED"
    server.clock.advance(days=5)
    await run_job(server, "EXPIRE_DELAY_CONSENTS")
    expired = await read(server, third)
    assert line(expired)["delayConsent"] == "DEFAULT_ACCEPTED"
    assert line(expired)["status"] == "WAITING"
    assert (
        events(expired, "LINE_DELAY_ACCEPTED")[0]["payload"]["delayConsent"] == "DEFAULT_ACCEPTED"
    )


# ---------------------------------------------------------------- 9. available to promise


async def test_available_to_promise_lists_cumulative_quantities_from_stock_supply_and_waiting_demand(
    server: LiveServer,
) -> None:
    sku = "SA-ATP"
    await product(server, sku, *backorderable(sku, stock=5))
    await place(server, sku, 7)  # 5 READY + 2 BACKORDER waiting
    await purchase_order(server, sku, 10, 10, supplier="ATPCO")
    await purchase_order(server, sku, 4, 20, supplier="ATPCO")

    result = await server.gql(ATP, {"sku": sku})
    assert result.errors == []
    answer = result.data["availableToPromise"]
    assert [(e["date"], e["quantity"]) for e in answer["entries"]] == [
        (days(server, 0), 0),
        (days(server, 10), 8),
        (days(server, 20), 12),
    ]

    await received(server, sku, 3)  # 2 to the waiting line, 1 to stock
    result = await server.gql(ATP, {"sku": sku})
    assert [(e["date"], e["quantity"]) for e in result.data["availableToPromise"]["entries"]] == [
        (days(server, 0), 1),
        (days(server, 10), 11),
        (days(server, 20), 15),
    ]

    unknown = await server.gql(ATP, {"sku": "SA-NOPE"})
    assert unknown.body["data"]["availableToPromise"] is None
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in unknown.errors] == [
        ("NOT_FOUND", ["sku"])
    ]


# ---------------------------------------------------------------- 10. dispatch and delivery


async def test_dispatch_ships_ready_and_allocated_lines_captures_the_deposit_balance_and_delivery_counts_in_accuracy(
    server: LiveServer,
) -> None:
    sku = "SA-SHIP"
    await product(
        server,
        sku,
        *backorderable(sku, stock=1, terms=", paymentTerms: {kind: DEPOSIT, depositPercent: 20}"),
        price=1000,
    )
    order = await place(server, sku, 3)
    ready, waiting = order["lines"]
    assert (ready["state"], waiting["state"]) == ("READY", "BACKORDER")
    assert waiting["quantity"] == 2
    assert waiting["paymentSummary"]["captured"]["amountMinor"] == 400
    assert waiting["paymentSummary"]["dueAtDispatch"]["amountMinor"] == 1600

    refused = await server.gql(
        DISPATCH, {"input": {"orderId": order["id"], "lineIds": [waiting["id"]]}}
    )
    assert refused.data["dispatchOrderLines"]["userErrors"][0]["code"] == "NOT_DISPATCHABLE"

    await received(server, sku, 2)
    assert (await pool_view(server, sku))["onHand"] == 3
    shipped = await mutate(server, DISPATCH, "dispatchOrderLines", input={"orderId": order["id"]})
    result = shipped["order"]
    assert [x["status"] for x in result["lines"]] == ["SHIPPED", "SHIPPED"]
    assert all(x["shippedAt"] for x in result["lines"])
    assert result["status"] == "COMPLETED"
    balance = [p for p in result["payments"] if p["note"] == "balance captured at dispatch"]
    assert [(p["kind"], p["amount"]["amountMinor"]) for p in balance] == [("CAPTURE", 1600)]
    assert result["paymentSummary"]["dueAtDispatch"]["amountMinor"] == 0
    assert result["paymentSummary"]["captured"]["amountMinor"] == 3000
    assert len(events(result, "LINE_SHIPPED")) == 2
    view = await pool_view(server, sku)
    assert view["onHand"] == 0
    assert view["READY"]["committed"] == 0
    assert view["RESERVED"]["committed"] == 0
    assert view["BACKORDER"]["committed"] == 0
    movements = await server.sql(
        "SELECT sum((payload->>'delta')::int) FROM events WHERE kind = 'stock.moved' "
        "AND subject_id = $1 AND payload->>'reason' = 'SHIPMENT'",
        sku,
    )
    assert movements[0][0] == -3

    again = await server.gql(DISPATCH, {"input": {"orderId": order["id"]}})
    assert again.data["dispatchOrderLines"]["userErrors"][0]["code"] == "NOT_DISPATCHABLE"

    history = line(await read(server, order), 1)["promiseHistory"]
    # placed with no supply: no date was promised; the receipt's is the first dated promise
    assert (history[0]["cause"], history[0]["latest"]) == ("PLACED", None)
    first_promise = next(p for p in history if p["latest"] is not None)
    server.clock.advance(days=3)
    delivered_on = today(server).isoformat()
    assert first_promise["earliest"] <= delivered_on <= first_promise["latest"]
    future = await server.gql(
        CONFIRM, {"input": {"orderId": order["id"], "deliveredOn": days(server, 1)}}
    )
    assert future.data["confirmDelivery"]["userErrors"][0]["code"] == "INVALID_DATE"
    done = await mutate(
        server,
        CONFIRM,
        "confirmDelivery",
        input={"orderId": order["id"], "deliveredOn": delivered_on},
    )
    assert [x["deliveredOn"] for x in done["order"]["lines"]] == [delivered_on, delivered_on]
    accuracy = (await server.gql(ACCURACY, {"sku": sku})).data["promiseAccuracy"]
    assert (accuracy["deliveredLines"], accuracy["onTimeLines"]) == (1, 1)
    assert accuracy["averageDeviationPercent"] == 0
    assert accuracy["meetsTarget"] is True


# ---------------------------------------------------------------- 11. bad input and auth


async def test_bad_supply_and_receipt_input_gets_typed_user_errors_and_changes_nothing(
    server: LiveServer,
) -> None:
    sku, other = "SA-BAD", "SA-BAD-OTHER"
    await product(server, sku, *backorderable(sku))
    await product(server, other)
    waiting = await place(server, sku, 2)
    po = await purchase_order(server, sku, 5, 5, supplier="BADCO")
    foreign = await purchase_order(server, other, 5, 5, supplier="BADCO")

    async def receipt_error(**overrides: Any) -> list[tuple[list[str], str]]:
        data = {"sku": sku, "quantity": 1, "location": "main", "reference": "GRN-BAD"}
        data.update(overrides)
        result = await server.gql(RECEIVE, {"input": data})
        payload = result.data["receiveGoods"]
        assert payload["receipt"] is None
        return [(e["field"], e["code"]) for e in payload["userErrors"]]

    assert await receipt_error(sku="SA-NOPE") == [(["input", "sku"], "NOT_FOUND")]
    assert await receipt_error(location="mars") == [(["input", "location"], "UNKNOWN_LOCATION")]
    assert await receipt_error(quantity=0) == [(["input", "quantity"], "INVALID_QUANTITY")]
    assert await receipt_error(quantity=-3) == [(["input", "quantity"], "INVALID_QUANTITY")]
    assert await receipt_error(quantity=100_000_001) == [
        (["input", "quantity"], "INVALID_QUANTITY")
    ]
    assert await receipt_error(reference=" ") == [(["input", "reference"], "INVALID")]
    assert await receipt_error(supplyId="nope") == [(["input", "supplyId"], "SUPPLY_NOT_FOUND")]
    missing = base64.urlsafe_b64encode(b"Supply:99999999").decode()
    assert await receipt_error(supplyId=missing) == [(["input", "supplyId"], "SUPPLY_NOT_FOUND")]
    assert await receipt_error(supplyId=foreign["id"]) == [
        (["input", "supplyId"], "SUPPLY_OTHER_SKU")
    ]

    async def supply_error(document: str, field: str, **data: Any) -> list[tuple[list[str], str]]:
        result = await server.gql(document, {"input": data})
        payload = result.data[field]
        assert payload["supply"] is None
        return [(e["field"], e["code"]) for e in payload["userErrors"]]

    po_input = {"sku": sku, "quantity": 3, "location": "main", "supplier": {"code": "BADCO"}}
    assert await supply_error(
        CREATE_PO, "createPurchaseOrder", **{**po_input, "sku": "SA-NOPE"}
    ) == [(["input", "sku"], "NOT_FOUND")]
    assert await supply_error(
        CREATE_PO, "createPurchaseOrder", **{**po_input, "location": "mars"}
    ) == [(["input", "location"], "UNKNOWN_LOCATION")]
    assert await supply_error(CREATE_PO, "createPurchaseOrder", **{**po_input, "quantity": 0}) == [
        (["input", "quantity"], "INVALID_QUANTITY")
    ]
    assert await supply_error(
        CREATE_PO, "createPurchaseOrder", **{**po_input, "expectedOn": days(server, -1)}
    ) == [(["input", "expectedOn"], "INVALID_DATE")]
    run_input = {
        "sku": sku,
        "startOn": days(server, 1),
        "unitsPerDay": 5,
        "runDays": 3,
        "location": "main",
    }
    assert await supply_error(
        SCHEDULE_RUN, "scheduleProductionRun", **{**run_input, "unitsPerDay": 0}
    ) == [(["input", "unitsPerDay"], "INVALID_QUANTITY")]
    assert await supply_error(
        SCHEDULE_RUN, "scheduleProductionRun", **{**run_input, "startOn": days(server, -2)}
    ) == [(["input", "startOn"], "INVALID_DATE")]

    eta = {"id": po["id"], "expectedOn": days(server, 9), "reason": "late"}
    assert await supply_error(UPDATE_ETA, "updateSupplyEta", **{**eta, "reason": ""}) == [
        (["input", "reason"], "INVALID")
    ]
    assert await supply_error(UPDATE_ETA, "updateSupplyEta", **{**eta, "reason": "   "}) == [
        (["input", "reason"], "INVALID")
    ]
    assert await supply_error(
        UPDATE_ETA, "updateSupplyEta", **{**eta, "expectedOn": days(server, -1)}
    ) == [(["input", "expectedOn"], "INVALID_DATE")]
    assert await supply_error(UPDATE_ETA, "updateSupplyEta", **{**eta, "id": missing}) == [
        (["input", "id"], "SUPPLY_NOT_FOUND")
    ]
    assert await supply_error(UPDATE_ETA, "updateSupplyEta", **{**eta, "id": "garbage"}) == [
        (["input", "id"], "SUPPLY_NOT_FOUND")
    ]
    assert await supply_error(
        UPDATE_ETA, "updateSupplyEta", **{**eta, "expectedOn": days(server, 5)}
    ) == [(["input", "expectedOn"], "INVALID_DATE")]
    assert await supply_error(CANCEL_SUPPLY, "cancelSupply", id=po["id"], reason="") == [
        (["input", "reason"], "INVALID")
    ]
    assert await supply_error(CANCEL_SUPPLY, "cancelSupply", id=missing, reason="x") == [
        (["input", "id"], "SUPPLY_NOT_FOUND")
    ]
    await mutate(server, CANCEL_SUPPLY, "cancelSupply", input={"id": foreign["id"], "reason": "x"})
    assert await supply_error(CANCEL_SUPPLY, "cancelSupply", id=foreign["id"], reason="x") == [
        (["input", "id"], "SUPPLY_CLOSED")
    ]
    policy = await server.gql(SET_POLICY, {"sku": "SA-NOPE", "policy": "FIFO"})
    assert policy.data["setAllocationPolicy"]["userErrors"][0]["code"] == "NOT_FOUND"

    # nothing changed
    view = await pool_view(server, sku)
    assert view["onHand"] == 0
    assert view["RESERVED"]["committed"] == 0
    assert status(await fresh_line(server, waiting)) == ("WAITING", 0)
    listed = await server.gql(SUPPLY_QUERY, {"sku": sku})
    assert [
        (n["id"], n["expectedOn"], n["slips"], n["status"]) for n in listed.data["supply"]["nodes"]
    ] == [(po["id"], days(server, 5), 0, "OPEN")]
    rows = await server.sql(
        "SELECT (SELECT count(*) FROM goods_receipts g JOIN products p ON p.id = g.product_id "
        "WHERE p.sku = ANY($1::text[])), "
        "(SELECT count(*) FROM events WHERE kind = 'stock.moved' "
        "AND subject_id = ANY($1::text[]) AND payload->>'reason' = 'RECEIPT')",
        [sku, other],
    )
    assert tuple(rows[0]) == (0, 0)


OPS_ONLY = [
    (
        "createPurchaseOrder",
        'mutation { createPurchaseOrder(input: {sku: "SA-AUTH", quantity: 1, location: "main", '
        'supplier: {code: "X"}}) { userErrors { code } } }',
    ),
    (
        "scheduleProductionRun",
        'mutation { scheduleProductionRun(input: {sku: "SA-AUTH", startOn: "2099-01-01", '
        'unitsPerDay: 1, runDays: 1, location: "main"}) { userErrors { code } } }',
    ),
    (
        "updateSupplyEta",
        'mutation { updateSupplyEta(input: {id: "U3VwcGx5OjE=", expectedOn: "2099-01-01", '
        'reason: "x"}) { userErrors { code } } }',
    ),
    (
        "cancelSupply",
        'mutation { cancelSupply(input: {id: "U3VwcGx5OjE=", reason: "x"}) { userErrors { code } } }',
    ),
    (
        "receiveGoods",
        'mutation { receiveGoods(input: {sku: "SA-AUTH", quantity: 5, location: "main", '
        'reference: "G"}) { userErrors { code } } }',
    ),
    (
        "setAllocationPolicy",
        'mutation { setAllocationPolicy(input: {sku: "SA-AUTH", policy: PRIORITY_FIRST}) '
        "{ userErrors { code } } }",
    ),
    (
        "runScheduledJob",
        "mutation { runScheduledJob(input: {job: RELEASE_PREORDERS}) { ran } }",
    ),
]


async def test_supply_mutations_need_the_ops_scope_and_a_storefront_or_no_key_changes_nothing(
    server: LiveServer,
) -> None:
    await product(server, "SA-AUTH", *backorderable("SA-AUTH"))
    storefront = await server.key_with("storefront")
    for name, document in OPS_ONLY:
        denied = await server.gql(document, key=storefront)
        assert denied.body.get("data") is None or denied.body["data"].get(name) is None, name
        assert [e["extensions"]["code"] for e in denied.errors] == ["FORBIDDEN"], name
        anonymous = await server.gql(document, anonymous=True)
        assert [e["extensions"]["code"] for e in anonymous.errors] == ["UNAUTHENTICATED"], name
    view = await pool_view(server, "SA-AUTH")
    assert view["onHand"] == 0
    listed = await server.gql(SUPPLY_QUERY, {"sku": "SA-AUTH"})
    assert listed.data["supply"]["nodes"] == []
    hidden = await server.gql(SUPPLY_QUERY, {"sku": "SA-AUTH"}, key=storefront)
    assert [e["extensions"]["code"] for e in hidden.errors] == ["FORBIDDEN"]
    hidden = await server.gql(ACCURACY, {"sku": "SA-AUTH"}, anonymous=True)
    assert [e["extensions"]["code"] for e in hidden.errors] == ["UNAUTHENTICATED"]

    order = await place(server, "SA-AUTH", 1)
    for document, variables in (
        (PAUSE_ORDER, {"id": order["id"]}),
        (DISPATCH, {"input": {"orderId": order["id"]}}),
    ):
        anonymous = await server.gql(document, variables, anonymous=True)
        assert [e["extensions"]["code"] for e in anonymous.errors] == ["UNAUTHENTICATED"]
    for document, field, variables in (
        (PAUSE_ORDER, "pauseOrder", {"id": order["id"]}),
        (DISPATCH, "dispatchOrderLines", {"input": {"orderId": order["id"]}}),
    ):
        other_channel = await server.key_with("channel:b2b")
        hidden_order = await server.gql(document, variables, key=other_channel)
        assert hidden_order.data[field]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await fresh_line(server, order))["paused"] is False


# ---------------------------------------------------------------- 12. invariants


async def test_after_all_of_the_above_no_invariant_is_violated(server: LiveServer) -> None:
    violations = await check(server.services)
    assert violations == [], [str(v) for v in violations]


class _DeclineSecondCapture:
    """A PSP that approves everything but the second capture it is asked for."""

    name = "ledger"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None]] = []

    async def execute(
        self, kind: Any, amount_minor: int, currency: str, reference: str | None
    ) -> Any:
        from app.services.gateway import GatewayResult

        self.calls.append((str(kind), amount_minor, reference))
        captures = [c for c in self.calls if c[0] == "CAPTURE"]
        declined = str(kind) == "CAPTURE" and len(captures) == 2
        return GatewayResult(f"psp-{len(self.calls)}", approved=not declined, message="no")


async def test_a_dispatch_whose_second_capture_is_declined_refunds_the_first_and_ships_nothing(
    server: LiveServer,
) -> None:
    from app.services.fulfilment import dispatch
    from app.services.results import SYSTEM

    terms = ", paymentTerms: {kind: DEPOSIT, depositPercent: 20}"
    for sku in ("SA-DECL-1", "SA-DECL-2"):
        await product(server, sku, *backorderable(sku, stock=0, terms=terms), price=1000)
    data = {
        "idempotencyKey": str(uuid.uuid4()),
        "channel": "webstore",
        "customer": {"email": "decl@example.com", "name": "D"},
        "shippingAddress": {"region": "EU"},
        "lines": [{"sku": "SA-DECL-1", "quantity": 1}, {"sku": "SA-DECL-2", "quantity": 1}],
    }
    order = (await server.gql(PLACE, {"input": data})).data["placeOrder"]["order"]
    await received(server, "SA-DECL-1", 1)
    await received(server, "SA-DECL-2", 1)
    gateway = _DeclineSecondCapture()
    result = await dispatch(
        server.services.with_gateway(gateway), SYSTEM, uuid.UUID(_raw_id(order["id"])), None, None
    )
    assert [e.code for e in result.errors] == ["PAYMENT_DECLINED"]
    # the balance of the first line was captured, the second declined: the first is refunded
    assert [(c[0], c[1]) for c in gateway.calls] == [
        ("CAPTURE", 800),
        ("CAPTURE", 800),
        ("REFUND", 800),
    ]
    assert gateway.calls[2][2] == "psp-1"
    fresh = await read(server, order)
    assert [x["status"] for x in fresh["lines"]] == ["ALLOCATED", "ALLOCATED"]
    assert not [p for p in fresh["payments"] if p["note"] == "balance captured at dispatch"]


def _raw_id(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id).decode().split(":", 1)[1]
