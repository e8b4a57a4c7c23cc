"""Property-based test of shipments against the live service: whatever sequence of shipment
mutations runs, stock, pools and the payment ledger agree.

Hypothesis draws a run of steps over a few SKUs of its own (ready stock that can also be
backordered, a backorder paid by deposit, one paid by authorization): placements by two
customers on a channel that consolidates and one that does not (some shipping together),
goods receipts, the OPEN_SHIPMENTS job, and the warehouse's moves on any shipment of the run:
advance, hold, release, dispatch (some with a gateway that declines the capture), deliver,
cancel, and order cancellations. After every step:

- the invariant checker finds no error (pools, stock ledger, ring-fenced units, shipments and
  their lines);
- every shipped line has paid exactly its total (captures less refunds), every cancelled line
  nothing, and no line that has not shipped carries a capture taken at dispatch;
- a shipment's status agrees with what was done to it (a refused move changed nothing).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.payments import PaymentKind
from app.services.gateway import GatewayResult
from app.services.invariants import check
from tests.support import LiveServer

# ---------------------------------------------------------------- the steps hypothesis draws


@dataclass(frozen=True)
class Place:
    sku: int
    quantity: int
    customer: int
    channel: str
    together: bool


@dataclass(frozen=True)
class Receive:
    sku: int
    quantity: int


@dataclass(frozen=True)
class OpenJob:
    pass


@dataclass(frozen=True)
class Move:
    what: str  # advance, hold, release, dispatch, deliver, cancel; rush
    shipment: int  # which of the run's shipments (modulo how many there are)
    decline: bool = False


@dataclass(frozen=True)
class CancelOrder:
    order: int


Step = Place | Receive | OpenJob | Move | CancelOrder

MOVES = ("advance", "hold", "release", "dispatch", "deliver", "cancel", "rush", "rush")
"""``rush``: advance, advance and dispatch one shipment, each checked as a move of its own."""

places = st.builds(
    Place,
    st.integers(0, 2),
    st.integers(1, 3),
    st.integers(0, 1),
    st.sampled_from(("webstore", "marketplace")),
    st.integers(0, 3).map(lambda n: n == 0),
)
moves = st.builds(
    Move,
    st.sampled_from(MOVES),
    st.integers(0, 2),
    st.integers(0, 2).map(lambda n: n == 0),
)
STEPS: dict[str, st.SearchStrategy[Any]] = {
    "place": places,
    "receive": st.builds(Receive, st.integers(0, 2), st.integers(1, 4)),
    "open": st.just(OpenJob()),
    "cancel order": st.builds(CancelOrder, st.integers(0, 10)),
    "move": moves,
}
# the warehouse's moves are most of a run
steps = st.sampled_from(["place", "receive", "open", "cancel order", *["move"] * 8]).flatmap(
    lambda kind: STEPS[kind]
)


@st.composite
def runs(draw: st.DrawFn) -> list[Step]:
    """A few orders and a first opening, then anything."""
    start = draw(st.lists(places, min_size=1, max_size=3))
    return [
        *start,
        Receive(1, 2),
        Receive(2, 2),
        OpenJob(),
        *draw(st.lists(steps, min_size=8, max_size=20)),
    ]


# ---------------------------------------------------------------- the service side

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id } userErrors { code message } }
}
"""


def _mutation(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        "{ shipment { id status } userErrors { code message } } }"
    )


DOCUMENTS = {
    "advance": _mutation("advanceShipment", "AdvanceShipmentInput"),
    "hold": _mutation("holdShipment", "HoldShipmentInput"),
    "release": _mutation("releaseShipment", "ReleaseShipmentInput"),
    "dispatch": _mutation("dispatchShipment", "DispatchShipmentInput"),
    "deliver": _mutation("markShipmentDelivered", "MarkShipmentDeliveredInput"),
    "cancel": _mutation("cancelShipment", "CancelShipmentInput"),
}

# What each move takes a shipment to when it is allowed (the state machine, independently).
NEXT = {
    ("advance", "PICKING"): "PACKED",
    ("advance", "PACKED"): "AWAITING_SHIPMENT",
    ("dispatch", "AWAITING_SHIPMENT"): "DISPATCHED",
    ("deliver", "DISPATCHED"): "DELIVERED",
    **{("hold", s): "ON_HOLD" for s in ("PICKING", "PACKED", "AWAITING_SHIPMENT")},
    **{("cancel", s): "CANCELLED" for s in ("PICKING", "PACKED", "AWAITING_SHIPMENT", "ON_HOLD")},
}


class Declining:
    """A PSP that declines every capture (and approves the rest)."""

    name = "declining"

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        approved = kind is not PaymentKind.CAPTURE
        return GatewayResult(f"p-{uuid.uuid4().hex[:8]}", approved, "declined")


@pytest_asyncio.fixture(scope="module")
async def live(server: LiveServer) -> AsyncIterator[LiveServer]:
    result = await server.gql(
        'mutation { setChannelFulfilment(input: {channel: "marketplace", slaHours: 48, '
        "autoConsolidate: true}) { userErrors { code } } }"
    )
    assert result.data["setChannelFulfilment"]["userErrors"] == []
    yield server


@dataclass
class Run:
    tag: str
    skus: list[str]
    orders: list[str]


async def _setup(server: LiveServer) -> Run:
    tag = secrets.token_hex(4).upper()
    skus = [f"PS-{tag}-{n}" for n in range(3)]
    ready, deposit, authorize = skus
    body = " ".join(
        [
            f'c{i}: createProduct(input: {{sku: "{sku}", name: "{sku}", '
            f"price: {{amountMinor: 1000, currency: EUR}}}}) {{ userErrors {{ code }} }}"
            for i, sku in enumerate(skus)
        ]
        + [
            f's: setStock(input: {{sku: "{ready}", location: "main", quantity: 3}}) '
            "{ userErrors { code } }",
            f'b0: configureBackorder(input: {{sku: "{ready}", allowed: true}}) '
            "{ userErrors { code } }",
            f'b1: configureBackorder(input: {{sku: "{deposit}", allowed: true, '
            "paymentTerms: {kind: DEPOSIT, depositPercent: 20}}) { userErrors { code } }",
            f'b2: configureBackorder(input: {{sku: "{authorize}", allowed: true, '
            "paymentTerms: {kind: AUTHORIZE}}) { userErrors { code } }",
        ]
    )
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload
    return Run(tag, skus, [])


async def _shipment_ids(server: LiveServer, run: Run) -> list[int]:
    rows = await server.sql(
        "SELECT DISTINCT sl.shipment_id FROM shipment_lines sl "
        "JOIN order_lines l ON l.id = sl.line_id WHERE l.sku = ANY($1::text[]) ORDER BY 1",
        run.skus,
    )
    return [int(r[0]) for r in rows]


def _global(kind: str, key: object) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


async def _state(server: LiveServer, shipment_id: int) -> tuple[str, str | None]:
    """(status, held_from) of a shipment."""
    rows = await server.sql("SELECT status, held_from FROM shipments WHERE id = $1", shipment_id)
    return str(rows[0][0]), rows[0][1]


async def _do(server: LiveServer, run: Run, step: Step) -> None:
    if isinstance(step, Place):
        lines = [{"sku": run.skus[step.sku], "quantity": step.quantity}]
        if step.together:
            lines.append({"sku": run.skus[(step.sku + 1) % 3], "quantity": 1})
        data = {
            "idempotencyKey": str(uuid.uuid4()),
            "channel": step.channel,
            "customer": {"email": f"c{step.customer}-{run.tag}@prop.example", "name": "P"},
            "shippingAddress": {"region": "EU", "postalCode": "1011"},
            "shipTogether": step.together,
            "lines": lines,
        }
        payload = (await server.gql(PLACE, {"input": data})).data["placeOrder"]
        assert payload["userErrors"] == [], payload
        run.orders.append(payload["order"]["id"])
    elif isinstance(step, Receive):
        data = {
            "sku": run.skus[step.sku],
            "quantity": step.quantity,
            "location": "main",
            "reference": f"GRN-{uuid.uuid4().hex[:8]}",
        }
        result = await server.gql(
            "mutation($input: ReceiveGoodsInput!) { receiveGoods(input: $input) "
            "{ userErrors { code } } }",
            {"input": data},
        )
        assert result.data["receiveGoods"]["userErrors"] == []
    elif isinstance(step, OpenJob):
        result = await server.gql(
            "mutation { runScheduledJob(input: {job: OPEN_SHIPMENTS}) { ran } }"
        )
        assert result.data["runScheduledJob"]["ran"] is True
    elif isinstance(step, CancelOrder):
        if not run.orders:
            return
        order_id = run.orders[step.order % len(run.orders)]
        result = await server.gql(
            'mutation($id: ID!) { cancelOrder(input: {id: $id, reason: "prop"}) '
            "{ userErrors { code } } }",
            {"id": order_id},
        )
        codes = [e["code"] for e in result.data["cancelOrder"]["userErrors"]]
        assert codes in ([], ["NOT_CANCELLABLE"]), codes
    else:
        await _move(server, run, step)


async def _move(server: LiveServer, run: Run, step: Move) -> None:
    if step.what == "rush":
        for what in ("advance", "advance", "dispatch"):
            await _move(server, run, Move(what, step.shipment, step.decline))
        return
    ids = await _shipment_ids(server, run)
    if not ids:
        return
    shipment_id = ids[step.shipment % len(ids)]
    before, held_from = await _state(server, shipment_id)
    extra: dict[str, Any] = {
        "hold": {"reason": "OTHER"},
        "dispatch": {"carrier": "DHL", "trackingNumber": f"T{shipment_id}"},
        "deliver": {"deliveredOn": server.services.today().isoformat()},
    }.get(step.what, {})
    saved = server.services.gateway
    if step.what == "dispatch" and step.decline:
        server.services.gateway = Declining()
    try:
        result = await server.gql(
            DOCUMENTS[step.what], {"input": {"id": _global("Shipment", shipment_id), **extra}}
        )
    finally:
        server.services.gateway = saved
    payload = next(iter(result.data.values()))
    codes = [e["code"] for e in payload["userErrors"]]
    after, held_after = await _state(server, shipment_id)
    allowed = NEXT.get((step.what, before))
    if step.what == "release" and before == "ON_HOLD":
        allowed = held_from  # back to the step it was held at
    if allowed is None:
        assert codes == ["INVALID_TRANSITION"], (step, before, payload)
        assert after == before, (step, before, after)
    elif codes == []:
        assert after == allowed, (step, before, after)
        assert (held_after is None) == (after != "ON_HOLD"), (step, held_after)
    elif codes == ["PAYMENT_DECLINED"]:
        assert step.decline, (step, payload)
        assert (after, held_after) == ("ON_HOLD", before), (step, payload)
    else:
        # refused for another reason (no line left, not enough stock): nothing changed
        assert codes in (["NOT_DISPATCHABLE"], ["INSUFFICIENT_STOCK"]), (step, payload)
        assert after == before


PAYMENTS_SQL = """
SELECT l.id, l.status, l.quantity * l.unit_price_minor AS total,
       COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'CAPTURE'), 0)
     - COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'REFUND'), 0) AS paid,
       count(*) FILTER (WHERE pe.kind = 'CAPTURE' AND (pe.note = 'balance captured at dispatch'
                                                       OR pe.note LIKE 'capture of % at dispatch'))
           AS dispatch_captures
FROM order_lines l LEFT JOIN payment_entries pe ON pe.line_id = l.id
WHERE l.sku = ANY($1::text[])
GROUP BY l.id
"""


async def _agree(server: LiveServer, run: Run, where: str) -> None:
    violations = await check(server.services)
    assert [v for v in violations if v.is_error] == [], (where, [str(v) for v in violations])
    for line in await server.sql(PAYMENTS_SQL, run.skus):
        if line["status"] == "SHIPPED":
            assert line["paid"] == line["total"], (where, dict(line))
        elif line["status"] == "CANCELLED":
            assert line["paid"] == 0, (where, dict(line))
        else:
            assert line["dispatch_captures"] == 0, (where, dict(line))
            assert 0 <= line["paid"] <= line["total"], (where, dict(line))
    unshipped = await server.sql(
        "SELECT count(*) FROM order_lines WHERE sku = ANY($1::text[]) AND status = 'SHIPPED' "
        "AND shipment_id IS NULL",
        run.skus,
    )
    assert unshipped[0][0] == 0, where  # every dispatch went through a shipment


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=runs())
async def test_any_sequence_of_shipment_moves_keeps_stock_pools_and_payments_in_agreement(
    live: LiveServer, sequence: list[Step]
) -> None:
    run = await _setup(live)
    for n, step in enumerate(sequence):
        await _do(live, run, step)
        await _agree(live, run, f"step {n}: {step}")
