"""Customers hear about their orders: the relay turns ledger events into e-mails through a real
SMTP server, with the right template and content per state and event, retries through an
outage, dead letters and replay, at most once across a crash, a consent clock that starts only
when the customer was told, reminders at both offsets, and unsubscribing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import pytest_asyncio

from app.services.notifications import relay
from tests.api.mail_helpers import Sink, html_of, link, mail_server, send_mail, smtp_sink, text_of
from tests.support import LiveServer

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number lines { id sku state status consentDueAt delayConsent } }
  orderToken userErrors { field code message } } }"""

LINE = """query($id: ID!) { node(id: $id) { ... on OrderLine {
  id state status delayConsent consentDueAt deliveryEstimate { earliest latest } } } }"""

NOTIFICATIONS = """query($filter: NotificationFilterInput) {
  notifications(first: 50, filter: $filter) {
    totalCount nodes { id template status attempts recipient messageId lastError
                       eventKind order { number } lines { id } }
  }
}"""


@pytest.fixture(scope="module")
def sink_and_port() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as found:
        yield found


@pytest_asyncio.fixture(scope="module")
async def mail(database_url: str, sink_and_port: tuple[Sink, int]) -> AsyncIterator[LiveServer]:
    async with mail_server(
        database_url, sink_and_port[1], delay_no_answer_policy="CANCEL"
    ) as server:
        yield server


@pytest.fixture
def sink(sink_and_port: tuple[Sink, int]) -> Iterator[Sink]:
    found = sink_and_port[0]
    found.refuse = None
    yield found
    found.refuse = None


@pytest.fixture(autouse=True)
def _today(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "mail" in request.fixturenames:
        server: LiveServer = request.getfixturevalue("mail")
        server.clock.set_today(date(2027, 3, 1))


# ---------------------------------------------------------------- helpers


async def ok(server: LiveServer, document: str, **variables: Any) -> Any:
    result = await server.gql(document, variables)
    assert not result.errors, result.errors
    data = result.data
    payload = next(iter(data.values()))
    if isinstance(payload, dict) and "userErrors" in payload:
        assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def product(server: LiveServer, sku: str, *setup: str, price: int = 2000) -> None:
    await ok(
        server,
        f"""mutation {{ createProduct(input: {{sku: "{sku}", name: "Lamp {sku}",
            price: {{amountMinor: {price}, currency: EUR}}}}) {{ userErrors {{ code }} }} }}""",
    )
    for mutation in setup:
        await ok(server, f"mutation {{ {mutation} {{ userErrors {{ field code message }} }} }}")


def stock(sku: str, quantity: int) -> str:
    return f'setStock(input: {{sku: "{sku}", location: "main", quantity: {quantity}}})'


def backorder(sku: str) -> str:
    return (
        f'configureBackorder(input: {{sku: "{sku}", allowed: true, '
        "paymentTerms: {kind: DEPOSIT, depositPercent: 25}})"
    )


def preorder(sku: str, release: date) -> str:
    return (
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, releaseDate: '
        f'"{release.isoformat()}", cap: 100, paymentTerms: {{kind: AUTHORIZE}}}})'
    )


async def purchase_order(server: LiveServer, sku: str, quantity: int, on: date) -> str:
    payload = await ok(
        server,
        """mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) {
             supply { id } userErrors { field code message } } }""",
        input={
            "sku": sku,
            "quantity": quantity,
            "location": "main",
            "supplier": {"code": "MAILCO"},
            "expectedOn": on.isoformat(),
        },
    )
    supply_id: str = payload["supply"]["id"]
    return supply_id


async def place(
    server: LiveServer, email: str, *lines: tuple[str, int], name: str = "Ada Lovelace"
) -> dict[str, Any]:
    payload = await ok(
        server,
        PLACE,
        input={
            "idempotencyKey": str(uuid.uuid4()),
            "channel": "webstore",
            "customer": {"email": email, "name": name},
            "shippingAddress": {"region": "EU"},
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
        },
    )
    return dict(payload)


async def run(server: LiveServer, job: str) -> Any:
    payload = await ok(
        server,
        "mutation($job: ScheduledJob!) { runScheduledJob(input: {job: $job}) { ran result } }",
        job=job,
    )
    return payload["result"]


async def notifications(server: LiveServer, **flt: Any) -> list[dict[str, Any]]:
    payload = await ok(server, NOTIFICATIONS, filter=flt or None)
    return list(payload["nodes"])


async def line(server: LiveServer, line_id: str) -> dict[str, Any]:
    payload = await ok(server, LINE, id=line_id)
    return dict(payload)


def email() -> str:
    return f"c-{uuid.uuid4().hex[:8]}@example.com"


async def slipping_backorder(server: LiveServer, sku: str, customer: str) -> tuple[Any, str]:
    """A backorder whose PO then slips 40 days: the customer is asked to accept."""
    today = server.clock.current.date()
    await product(server, sku, stock(sku, 0), backorder(sku))
    po = await purchase_order(server, sku, 10, today + timedelta(days=10))
    order = await place(server, customer, (sku, 2))
    await send_mail(server)  # the confirmation
    await ok(
        server,
        """mutation($id: ID!, $on: Date!) { updateSupplyEta(input: {id: $id, expectedOn: $on,
             reason: "The container ship was delayed"}) { userErrors { field code message } } }""",
        id=po,
        on=(today + timedelta(days=50)).isoformat(),
    )
    return order, po


# ---------------------------------------------------------------- one template per state


async def test_a_mixed_order_gets_one_confirmation_saying_what_each_state_means(
    mail: LiveServer, sink: Sink
) -> None:
    today = mail.clock.current.date()
    await product(mail, "EM-READY", stock("EM-READY", 5))
    await product(mail, "EM-PRE", preorder("EM-PRE", today + timedelta(days=20)))
    await product(mail, "EM-BACK", stock("EM-BACK", 0), backorder("EM-BACK"))
    await purchase_order(mail, "EM-BACK", 5, today + timedelta(days=15))
    await place(mail, email(), ("EM-BACK", 1), name="First In Line")
    customer = email()
    order = await place(mail, customer, ("EM-READY", 1), ("EM-PRE", 1), ("EM-BACK", 2))

    result = await send_mail(mail)

    assert result.get("sent", 0) >= 1
    [message] = sink.to(customer)
    assert order["order"]["number"] in str(message["Subject"])
    text, html = text_of(message), html_of(message)
    launch = today + timedelta(days=20)
    assert f"{launch.day} {launch.strftime('%B')} {launch.year}" in text  # Babel, en_GB
    assert "Ships from" in text
    assert "number 2 in line" in text  # one backorder unit was ahead of this one
    assert "€10.00" in text  # the backorder's 25 % deposit of 2 x €20.00
    assert "Hello Ada Lovelace" in text
    assert "Ada Lovelace" in html
    assert "First In Line" not in text + html  # nothing of the other customer
    assert message["Message-ID"]
    listed = await notifications(mail, recipient=customer)
    assert [(n["template"], n["status"], n["attempts"]) for n in listed] == [
        ("ORDER_CONFIRMATION", "SENT", 1)
    ]
    assert listed[0]["messageId"] == message["Message-ID"]


async def test_without_smtp_every_message_is_kept_as_an_eml_file(
    database_url: str,
) -> None:
    from tests.support import live_server

    async with live_server(database_url) as server:
        await product(server, "EM-FILE", stock("EM-FILE", 3))
        customer = email()
        await place(server, customer, ("EM-FILE", 1))
        assert (await send_mail(server)).get("sent") == 1
        folder = server.services.settings.mail_dir
        assert folder is not None
        files = [p for p in folder.iterdir() if customer in p.read_text()]
        assert len(files) == 1
        assert files[0].suffix == ".eml"


async def test_dispatch_cancellation_and_balance_each_have_their_message(
    mail: LiveServer, sink: Sink
) -> None:
    today = mail.clock.current.date()
    await product(mail, "EM-SHIP", stock("EM-SHIP", 0), backorder("EM-SHIP"))
    await purchase_order(mail, "EM-SHIP", 5, today + timedelta(days=5))
    customer = email()
    order = await place(mail, customer, ("EM-SHIP", 2))
    other = await place(mail, customer, ("EM-SHIP", 1))
    await ok(
        mail,
        """mutation($input: ReceiveGoodsInput!) { receiveGoods(input: $input) {
             userErrors { field code message } } }""",
        input={"sku": "EM-SHIP", "quantity": 3, "location": "main", "reference": "GRN-EM-1"},
    )
    await ok(
        mail,
        """mutation($id: ID!) { dispatchOrderLines(input: {orderId: $id, carrier: "DHL",
             trackingNumber: "JD0001", trackingUrl: "https://track.example/JD0001"}) {
             userErrors { field code message } } }""",
        id=order["order"]["id"],
    )
    await ok(
        mail,
        """mutation($id: ID!) { cancelOrder(input: {id: $id, reason: "changed my mind"}) {
             userErrors { field code message } } }""",
        id=other["order"]["id"],
    )

    await send_mail(mail)

    subjects = {str(m["Subject"]): m for m in sink.to(customer)}
    templates = sorted(n["template"] for n in await notifications(mail, recipient=customer))
    assert templates == [
        "BALANCE_CAPTURED",
        "CANCELLATION",
        "DISPATCHED",
        "ORDER_CONFIRMATION",
        "ORDER_CONFIRMATION",
        "ORDER_PREPARING",
        "ORDER_PREPARING",
    ]
    dispatched = next(
        m for s, m in subjects.items() if "dispatched" in s.lower() or "on its way" in s.lower()
    )
    assert "JD0001" in text_of(dispatched)
    assert "https://track.example/JD0001" in text_of(dispatched)
    balance = next(m for s, m in subjects.items() if "€30.00" in text_of(m) and m is not dispatched)
    assert "€30.00" in text_of(balance)  # 75 % of 2 x €20.00 charged at dispatch
    cancelled = next(m for m in subjects.values() if "changed my mind" in text_of(m))
    assert "€5.00" in text_of(cancelled)  # the deposit refunded


async def test_the_launch_releases_pre_orders_with_a_message(mail: LiveServer, sink: Sink) -> None:
    today = mail.clock.current.date()
    launch = today + timedelta(days=3)
    await product(mail, "EM-LAUNCH", preorder("EM-LAUNCH", launch))
    customer = email()
    await place(mail, customer, ("EM-LAUNCH", 1))
    mail.clock.set_today(launch)
    await run(mail, "RELEASE_PREORDERS")
    await send_mail(mail)
    templates = [n["template"] for n in await notifications(mail, recipient=customer)]
    assert "PREORDER_RELEASED" in templates


# ---------------------------------------------------------------- delays and consent


async def test_a_delay_past_the_threshold_is_mailed_with_links_and_the_clock_starts_when_sent(
    mail: LiveServer, sink: Sink
) -> None:
    customer = email()
    order, _po = await slipping_backorder(mail, "EM-DELAY", customer)
    line_id = order["order"]["lines"][0]["id"]
    asked = await line(mail, line_id)
    assert asked["delayConsent"] == "REQUESTED"
    assert asked["consentDueAt"] is None  # nobody told the customer yet

    await send_mail(mail)

    [delay] = [m for m in sink.to(customer) if "container ship" in text_of(m)]
    text = text_of(delay)
    assert "accept" in text.lower()
    assert "cancel" in text.lower()
    told = await line(mail, line_id)
    assert told["consentDueAt"] is not None
    accept = link(delay, "delay")
    assert accept["decision"] == "ACCEPT"
    answer = """mutation($t: String!) { respondToDelay(input: {linkToken: $t}) {
                  line { delayConsent } userErrors { field code message } } }"""
    first = await mail.gql(answer, {"t": accept["token"]}, anonymous=True)
    assert first.data["respondToDelay"]["line"]["delayConsent"] == "ACCEPTED"
    again = await mail.gql(answer, {"t": accept["token"]}, anonymous=True)
    assert again.data["respondToDelay"]["userErrors"][0]["code"] in (
        "LINK_USED",
        "NO_DELAY_PENDING",
    )
    forged = await mail.gql(answer, {"t": accept["token"][:-3] + "abc"}, anonymous=True)
    assert forged.data["respondToDelay"]["userErrors"][0]["code"] == "INVALID_LINK"


async def test_a_customer_whose_delay_message_is_dead_is_never_cancelled_for_not_answering(
    mail: LiveServer, sink: Sink
) -> None:
    customer = email()
    order, _po = await slipping_backorder(mail, "EM-DEAD", customer)
    line_id = order["order"]["lines"][0]["id"]
    sink.refuse = "550 5.1.1 No such mailbox"

    await send_mail(mail)

    dead = await notifications(mail, recipient=customer, statuses=["DEAD"])
    assert [n["template"] for n in dead] == ["DELIVERY_DELAYED"]
    mail.clock.advance(days=30)
    await run(mail, "EXPIRE_DELAY_CONSENTS")  # the store's policy here is CANCEL
    still = await line(mail, line_id)
    assert (still["status"], still["delayConsent"], still["consentDueAt"]) == (
        "WAITING",
        "REQUESTED",
        None,
    )
    seen = await ok(
        mail,
        "{ undeliveredDelayNotices { line { id } notification { status template } } }",
    )
    assert {
        "line": {"id": line_id},
        "notification": {"status": "DEAD", "template": "DELIVERY_DELAYED"},
    } in seen


async def test_a_told_customer_who_does_not_answer_gets_the_store_policy(
    mail: LiveServer, sink: Sink
) -> None:
    customer = email()
    order, _po = await slipping_backorder(mail, "EM-NOANSWER", customer)
    line_id = order["order"]["lines"][0]["id"]
    await send_mail(mail)
    mail.clock.advance(days=8)
    await run(mail, "EXPIRE_DELAY_CONSENTS")
    gone = await line(mail, line_id)
    assert (gone["status"], gone["delayConsent"]) == ("CANCELLED", "DEFAULT_CANCELLED")


# ---------------------------------------------------------------- retries, dead letters, replay


async def test_an_smtp_outage_is_retried_with_backoff_and_delivered_exactly_once(
    mail: LiveServer, sink: Sink
) -> None:
    await product(mail, "EM-OUTAGE", stock("EM-OUTAGE", 5))
    customer = email()
    await place(mail, customer, ("EM-OUTAGE", 1))
    sink.refuse = "451 4.3.0 Try again later"

    await send_mail(mail)
    [waiting] = await notifications(mail, recipient=customer)
    assert (waiting["status"], waiting["attempts"]) == ("PENDING", 1)
    assert "451" in waiting["lastError"]
    sink.refuse = None
    await send_mail(mail)
    assert sink.to(customer) == []  # not due yet: backing off
    mail.clock.advance(minutes=10)
    await send_mail(mail)
    await send_mail(mail)
    assert len(sink.to(customer)) == 1
    [sent] = await notifications(mail, recipient=customer)
    assert (sent["status"], sent["attempts"]) == ("SENT", 2)


async def test_a_message_is_dead_after_the_last_attempt_and_a_replay_sends_it(
    mail: LiveServer, sink: Sink
) -> None:
    await product(mail, "EM-REPLAY", stock("EM-REPLAY", 5))
    customer = email()
    await place(mail, customer, ("EM-REPLAY", 1))
    sink.refuse = "421 4.7.0 Too busy"
    for _ in range(3):  # OMS_MAIL_MAX_ATTEMPTS is 3 here
        await send_mail(mail)
        mail.clock.advance(minutes=15)
    [dead] = await notifications(mail, recipient=customer)
    assert (dead["status"], dead["attempts"]) == ("DEAD", 3)
    assert "421" in dead["lastError"]
    sink.refuse = None

    replayed = await ok(
        mail,
        """mutation { replayNotifications(input: {filter: {statuses: [DEAD],
             template: ORDER_CONFIRMATION}}) {
             notifications { id status } userErrors { field code message } } }""",
    )
    assert dead["id"] in [n["id"] for n in replayed["notifications"]]
    await send_mail(mail)
    assert len(sink.to(customer)) == 1
    retry_sent = await mail.gql(
        "mutation($id: ID!) { retryNotification(input: {id: $id}) { userErrors { code } } }",
        {"id": dead["id"]},
    )
    assert retry_sent.data["retryNotification"]["userErrors"] == [{"code": "NOT_RETRYABLE"}]


async def test_a_relay_that_dies_between_send_and_commit_never_sends_twice_on_its_own(
    mail: LiveServer, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    await product(mail, "EM-CRASH", stock("EM-CRASH", 5))
    customer = email()
    await place(mail, customer, ("EM-CRASH", 1))

    async def die(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed after the SMTP server accepted the message")

    monkeypatch.setattr(relay, "_sent", die)
    with pytest.raises(RuntimeError):
        await relay.run_once(mail.services)
    monkeypatch.undo()
    assert len(sink.to(customer)) == 1
    [claimed] = await notifications(mail, recipient=customer)
    assert claimed["status"] == "SENDING"

    mail.clock.advance(minutes=5)  # the lease (120 s) ran out
    await send_mail(mail)
    await send_mail(mail)
    [unconfirmed] = await notifications(mail, recipient=customer)
    assert unconfirmed["status"] == "UNCONFIRMED"
    assert len(sink.to(customer)) == 1  # not sent again on its own

    await ok(
        mail,
        "mutation($id: ID!) { retryNotification(input: {id: $id}) { userErrors { code } } }",
        id=unconfirmed["id"],
    )
    await send_mail(mail)
    first, second = sink.to(customer)
    assert first["Message-ID"] == second["Message-ID"]  # a resend is recognisable


# ---------------------------------------------------------------- reminders and unsubscribing


async def test_reminders_go_out_at_both_offsets_once_each_and_stop_after_unsubscribing(
    mail: LiveServer, sink: Sink
) -> None:
    today = mail.clock.current.date()
    await product(mail, "EM-REMIND", stock("EM-REMIND", 0), backorder("EM-REMIND"))
    await purchase_order(mail, "EM-REMIND", 10, today + timedelta(days=60))
    customer = email()
    first = await place(mail, customer, ("EM-REMIND", 1))
    second = await place(mail, customer, ("EM-REMIND", 1))
    await send_mail(mail)
    expected = date.fromisoformat(
        (await line(mail, first["order"]["lines"][0]["id"]))["deliveryEstimate"]["earliest"]
    )

    mail.clock.set_today(expected - timedelta(days=30))
    assert await run(mail, "REMIND_DELIVERIES") >= 2
    assert await run(mail, "REMIND_DELIVERIES") == 0  # once per offset
    await send_mail(mail)
    reminders = [m for m in sink.to(customer) if "30 days" in text_of(m)]
    assert len(reminders) == 2
    assert reminders[0]["List-Unsubscribe"]
    unsubscribe = link(reminders[0], "unsubscribe")

    done = await mail.gql(
        """mutation($t: String!) { unsubscribeFromReminders(input: {token: $t}) {
             email userErrors { code } } }""",
        {"t": unsubscribe["token"]},
        anonymous=True,
    )
    assert done.data["unsubscribeFromReminders"]["email"] == customer
    mail.clock.set_today(expected - timedelta(days=7))
    assert await run(mail, "REMIND_DELIVERIES") >= 2
    await send_mail(mail)
    assert [m for m in sink.to(customer) if "7 days" in text_of(m)] == []
    suppressed = await notifications(mail, recipient=customer, statuses=["SUPPRESSED"])
    assert len(suppressed) == 2
    # transactional messages still go out
    await ok(
        mail,
        """mutation($id: ID!) { cancelOrder(input: {id: $id}) { userErrors { code } } }""",
        id=second["order"]["id"],
    )
    await send_mail(mail)
    assert any(
        n["template"] == "CANCELLATION" and n["status"] == "SENT"
        for n in await notifications(mail, recipient=customer)
    )


async def test_only_ops_see_and_resend_messages(mail: LiveServer) -> None:
    storefront = await mail.key_with("storefront")
    listed = await mail.gql("{ notifications { totalCount } }", key=storefront)
    assert listed.errors[0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await mail.gql("{ notifications { totalCount } }", anonymous=True)
    assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
