""" "Notify me" over HTTP, through a real SMTP server: a sign-up on a sold-out product sends one
confirmation e-mail whose link confirms it once (double opt-in: an unconfirmed alert is never
sent); when units free up or pre-orders or backorders open, alerts go out in sign-up order, no
more than can be sold, the next ones only after the first in line had their hold; each alert
says what opened; bad input changes nothing and a repeat sends nothing new."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
from babel.dates import format_date

from tests.api.mail_helpers import Sink, link, mail_server, send_mail, smtp_sink, text_of
from tests.support import LiveServer

REQUEST = """mutation($input: RequestAvailabilityAlertInput!) {
  requestAvailabilityAlert(input: $input) {
    alert { id sku status createdAt confirmedAt notifiedAt }
    userErrors { field code message }
  }
}"""

CONFIRM = """mutation($token: String!) {
  confirmAvailabilityAlert(input: {token: $token}) {
    alert { id sku status confirmedAt }
    userErrors { field code message }
  }
}"""

NODE = """query($id: ID!) { node(id: $id) { ... on AvailabilityAlert {
  id sku status openedState notifiedAt } } }"""

PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { number lines { state } } userErrors { field code message } } }"""

RELEASE = "mutation { runScheduledJob(input: {job: RELEASE_AVAILABILITY_ALERTS}) { ran result } }"

HOLD_MINUTES = 30


@pytest.fixture(scope="module")
def sink_and_port() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as found:
        yield found


@pytest_asyncio.fixture(scope="module")
async def server(database_url: str, sink_and_port: tuple[Sink, int]) -> AsyncIterator[LiveServer]:
    async with mail_server(database_url, sink_and_port[1], alert_hold_minutes=HOLD_MINUTES) as live:
        yield live


@pytest.fixture
def sink(sink_and_port: tuple[Sink, int]) -> Sink:
    return sink_and_port[0]


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    """The server is shared by the module: a test that moves the clock puts it back."""
    saved = server.clock.current
    yield
    server.clock.current = saved


# ---------------------------------------------------------------- helpers


def new_sku(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


def address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def ok(server: LiveServer, document: str, **variables: Any) -> Any:
    result = await server.gql(document, variables)
    payload = next(iter(result.data.values()))
    if isinstance(payload, dict) and "userErrors" in payload:
        assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def admin(server: LiveServer, *mutations: str) -> None:
    """Admin mutations, in order; each must succeed."""
    for mutation in mutations:
        await ok(server, f"mutation {{ {mutation} {{ userErrors {{ field code message }} }} }}")


async def product(server: LiveServer, sku: str, *setup: str, release: str | None = None) -> None:
    released = f', releaseDate: "{release}"' if release else ""
    await admin(
        server,
        f'createProduct(input: {{sku: "{sku}", name: "Lamp {sku}", '
        f"price: {{amountMinor: 4900, currency: EUR}}{released}}})",
        *setup,
    )


def stock(sku: str, quantity: int) -> str:
    return f'setStock(input: {{sku: "{sku}", location: "main", quantity: {quantity}}})'


async def sign_up(
    server: LiveServer, sku: str, email: str, channel: str | None = None
) -> dict[str, Any]:
    """The storefront's request (no key); the whole payload."""
    result = await server.gql(
        REQUEST, {"input": {"sku": sku, "email": email, "channel": channel}}, anonymous=True
    )
    return dict(result.data["requestAvailabilityAlert"])


async def confirm(server: LiveServer, token: str) -> dict[str, Any]:
    result = await server.gql(CONFIRM, {"token": token}, anonymous=True)
    return dict(result.data["confirmAvailabilityAlert"])


def confirmations(sink: Sink, email: str) -> list[EmailMessage]:
    return [m for m in sink.to(email) if str(m["Subject"]).startswith("Please confirm")]


def alerts_to(sink: Sink, email: str) -> list[EmailMessage]:
    return [m for m in sink.to(email) if str(m["Subject"]).startswith("Good news")]


def token_of(message: EmailMessage) -> str:
    return link(message, "alerts/confirm")["token"]


async def signed_up_and_confirmed(server: LiveServer, sink: Sink, sku: str, *emails: str) -> None:
    """Each address signs up, in order; then each confirms from its e-mail."""
    for email in emails:
        assert (await sign_up(server, sku, email))["userErrors"] == []
    await send_mail(server)
    for email in emails:
        [message] = confirmations(sink, email)
        assert (await confirm(server, token_of(message)))["userErrors"] == []


async def release(server: LiveServer) -> None:
    result = await server.gql(RELEASE)
    assert result.data["runScheduledJob"]["ran"] is True


async def statuses(server: LiveServer, sku: str) -> dict[str, str]:
    """Each address's alert status for the SKU (the newest alert of each address)."""
    rows = await server.sql(
        "SELECT a.email, a.status FROM availability_alerts a JOIN products p "
        "ON p.id = a.product_id WHERE p.sku = $1 ORDER BY a.id",
        sku,
    )
    return {r["email"]: r["status"] for r in rows}


async def alert_events(server: LiveServer, sku: str) -> list[tuple[str, str]]:
    rows = await server.sql(
        "SELECT kind, payload->>'email' AS email FROM events "
        "WHERE subject = 'ALERT' AND payload->>'sku' = $1 ORDER BY id",
        sku,
    )
    return [(r["kind"], r["email"]) for r in rows]


async def buy(server: LiveServer, sku: str, email: str) -> None:
    await ok(
        server,
        PLACE,
        input={
            "idempotencyKey": str(uuid.uuid4()),
            "channel": "webstore",
            "customer": {"email": email, "name": "Alert Customer"},
            "shippingAddress": {"region": "EU"},
            "lines": [{"sku": sku, "quantity": 1}],
        },
    )


# ---------------------------------------------------------------- double opt-in


async def test_a_sign_up_sends_one_confirmation_whose_link_confirms_the_alert_once(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-OPT")
    await product(server, sku)
    email = address("ada")

    payload = await sign_up(server, sku, email)

    assert payload["userErrors"] == []
    alert = payload["alert"]
    assert alert["sku"] == sku
    assert alert["status"] == "PENDING"
    assert alert["confirmedAt"] is None
    assert await statuses(server, sku) == {email: "PENDING"}
    assert await alert_events(server, sku) == [("alert.requested", email)]
    assert sink.to(email) == []  # the relay sends it, not the request

    await send_mail(server)

    [message] = sink.to(email)
    assert str(message["Subject"]).startswith("Please confirm your alert for Lamp " + sku)
    assert "Yes, notify me" in text_of(message)
    token = token_of(message)

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = await confirm(server, tampered)
    assert refused["alert"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID_LINK", ["input", "token"])
    ]
    assert await statuses(server, sku) == {email: "PENDING"}

    confirmed = await confirm(server, token)

    assert confirmed["userErrors"] == []
    assert confirmed["alert"]["id"] == alert["id"]
    assert confirmed["alert"]["status"] == "CONFIRMED"
    assert confirmed["alert"]["confirmedAt"] is not None
    again = await confirm(server, token)
    assert again["alert"] is None
    assert [e["code"] for e in again["userErrors"]] == ["LINK_USED"]
    assert await statuses(server, sku) == {email: "CONFIRMED"}
    assert await alert_events(server, sku) == [
        ("alert.requested", email),
        ("alert.confirmed", email),
    ]
    await send_mail(server)
    assert len(sink.to(email)) == 1  # confirming sends nothing


async def test_an_unconfirmed_alert_is_never_sent_and_does_not_hold_back_those_behind_it(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-UNC")
    await product(server, sku)
    first, second = address("first-unconfirmed"), address("second-confirmed")
    assert (await sign_up(server, sku, first))["userErrors"] == []
    await signed_up_and_confirmed(server, sink, sku, second)

    await admin(server, stock(sku, 1))
    await release(server)
    await send_mail(server)

    assert await statuses(server, sku) == {first: "PENDING", second: "NOTIFIED"}
    assert alerts_to(sink, first) == []
    assert len(alerts_to(sink, second)) == 1
    # even with units left for everyone and the hold over, a PENDING alert stays unsent
    await admin(server, stock(sku, 10))
    server.clock.advance(minutes=HOLD_MINUTES + 1)
    await release(server)
    await send_mail(server)
    assert await statuses(server, sku) == {first: "PENDING", second: "NOTIFIED"}
    assert alerts_to(sink, first) == []


async def test_an_expired_confirmation_link_is_refused_and_signing_up_again_sends_a_new_one(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-EXP")
    await product(server, sku)
    email = address("late")
    first = await sign_up(server, sku, email)
    await send_mail(server)
    [message] = confirmations(sink, email)

    server.clock.advance(days=8)
    expired = await confirm(server, token_of(message))

    assert [e["code"] for e in expired["userErrors"]] == ["LINK_EXPIRED"]
    assert await statuses(server, sku) == {email: "PENDING"}

    again = await sign_up(server, sku, email)
    await send_mail(server)

    assert again["alert"]["id"] == first["alert"]["id"]  # still one alert
    assert len(confirmations(sink, email)) == 2
    fresh = confirmations(sink, email)[-1]
    assert (await confirm(server, token_of(fresh)))["alert"]["status"] == "CONFIRMED"


async def test_a_repeated_sign_up_for_the_same_product_and_address_sends_no_second_confirmation(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-REP")
    await product(server, sku)
    email = address("repeat")

    first = await sign_up(server, sku, email)
    second = await sign_up(server, sku, "  " + email.upper() + " ")  # the same address
    await send_mail(server)
    third = await sign_up(server, sku, email)
    await send_mail(server)

    assert first["userErrors"] == second["userErrors"] == third["userErrors"] == []
    assert first["alert"]["id"] == second["alert"]["id"] == third["alert"]["id"]
    assert await statuses(server, sku) == {email: "PENDING"}
    assert await alert_events(server, sku) == [("alert.requested", email)]
    assert len(sink.to(email)) == 1

    # confirmed, a repeat is still that alert (and still no e-mail)
    await confirm(server, token_of(sink.to(email)[0]))
    repeat = await sign_up(server, sku, email)
    await send_mail(server)
    assert repeat["alert"]["id"] == first["alert"]["id"]
    assert repeat["alert"]["status"] == "CONFIRMED"
    assert len(sink.to(email)) == 1


# ---------------------------------------------------------------- order and limits


async def test_alerts_go_out_in_sign_up_order_no_more_than_can_be_sold_and_the_next_after_the_hold(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-ORD")
    await product(server, sku)
    first, second, third = address("one"), address("two"), address("three")
    for email in (first, second, third):
        assert (await sign_up(server, sku, email))["userErrors"] == []
        server.clock.advance(minutes=1)
    await send_mail(server)
    # confirmed in the reverse order: the sign-up counts, not the confirmation
    for email in (third, second, first):
        [message] = confirmations(sink, email)
        assert (await confirm(server, token_of(message)))["userErrors"] == []
        server.clock.advance(minutes=1)

    await release(server)  # still sold out: nothing
    assert set((await statuses(server, sku)).values()) == {"CONFIRMED"}

    await admin(server, stock(sku, 2))
    await release(server)
    await send_mail(server)

    assert await statuses(server, sku) == {
        first: "NOTIFIED",
        second: "NOTIFIED",
        third: "CONFIRMED",
    }
    assert len(alerts_to(sink, first)) == len(alerts_to(sink, second)) == 1
    assert alerts_to(sink, third) == []
    rows = await server.sql(
        "SELECT a.email, a.opened_state, a.held_until - a.notified_at AS hold "
        "FROM availability_alerts a JOIN products p ON p.id = a.product_id "
        "WHERE p.sku = $1 AND a.status = 'NOTIFIED' ORDER BY a.email",
        sku,
    )
    assert {(r["opened_state"], r["hold"]) for r in rows} == {
        ("IN_STOCK", timedelta(minutes=HOLD_MINUTES))
    }

    # within the hold the two units are the first two customers' chance
    await release(server)
    server.clock.advance(minutes=HOLD_MINUTES - 1)
    await release(server)
    assert (await statuses(server, sku))[third] == "CONFIRMED"

    # the first buys one; once the hold is over the unit left goes to the third in line
    await buy(server, sku, first)
    server.clock.advance(minutes=2)
    await release(server)
    await send_mail(server)

    assert (await statuses(server, sku))[third] == "NOTIFIED"
    assert len(alerts_to(sink, third)) == 1
    kinds = await alert_events(server, sku)
    released = [email for kind, email in kinds if kind == "alert.released"]
    assert released == [first, second, third]


async def test_after_the_hold_no_alert_goes_out_while_nothing_is_left_to_sell(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-GONE")
    await product(server, sku)
    first, second = address("quick"), address("next")
    await signed_up_and_confirmed(server, sink, sku, first, second)

    await admin(server, stock(sku, 1))
    await release(server)
    await buy(server, sku, first)  # the one unit is sold: SOLD_OUT again
    server.clock.advance(minutes=HOLD_MINUTES + 1)
    await release(server)
    await send_mail(server)

    assert await statuses(server, sku) == {first: "NOTIFIED", second: "CONFIRMED"}
    assert alerts_to(sink, second) == []

    await admin(server, stock(sku, 2))  # one more unit on hand (one is sold)
    await release(server)
    await send_mail(server)

    assert await statuses(server, sku) == {first: "NOTIFIED", second: "NOTIFIED"}
    assert len(alerts_to(sink, second)) == 1


# ---------------------------------------------------------------- what opened


async def test_opening_pre_orders_sends_alerts_that_say_it_is_a_pre_order_with_the_launch_date(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-PRE")
    launch = server.services.today() + timedelta(days=40)
    await product(server, sku, release=launch.isoformat())
    first, second, third = address("pre-a"), address("pre-b"), address("pre-c")
    await signed_up_and_confirmed(server, sink, sku, first, second, third)

    await admin(
        server,
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, '
        f'releaseDate: "{launch.isoformat()}", cap: 2}})',
    )
    await release(server)
    await send_mail(server)

    assert await statuses(server, sku) == {
        first: "NOTIFIED",
        second: "NOTIFIED",
        third: "CONFIRMED",  # two pre-orders can be taken
    }
    [message] = alerts_to(sink, first)
    assert str(message["Subject"]).startswith(f"Good news: pre-orders for Lamp {sku} are open")
    text = text_of(message)
    assert "Pre-orders are open" in text
    assert f"Pre-orders for Lamp {sku} are now open." in text
    assert f"It launches on {format_date(launch, format='long', locale='en_GB')}" in text
    assert "Pre-order" in text  # the button
    [event] = await server.sql(
        "SELECT payload FROM events WHERE kind = 'alert.released' AND payload->>'email' = $1",
        first,
    )
    payload = json.loads(event["payload"])
    assert payload["state"] == "PRE_ORDER"
    assert payload["buttonLabel"] == "Pre-order"
    assert payload["releaseDate"] == launch.isoformat()
    assert payload["sku"] == sku
    assert payload["name"] == f"Lamp {sku}"
    assert payload["productUrl"] is None


async def test_backorders_without_a_cap_alert_everyone_confirmed_at_once_saying_so(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-BACK")
    await product(server, sku, stock(sku, 0))
    emails = [address(f"back-{i}") for i in range(3)]
    await signed_up_and_confirmed(server, sink, sku, *emails)

    await admin(server, f'configureBackorder(input: {{sku: "{sku}", allowed: true}})')
    await release(server)
    await send_mail(server)

    assert set((await statuses(server, sku)).values()) == {"NOTIFIED"}
    for email in emails:
        [message] = alerts_to(sink, email)
        assert str(message["Subject"]).startswith(
            f"Good news: Lamp {sku} is available to backorder"
        )
        assert "can now be ordered on backorder" in text_of(message)


async def test_an_in_stock_alert_says_the_product_is_in_stock_and_ops_can_refetch_it(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-STK")
    await product(server, sku)
    email = address("stock")
    alert_id = (await sign_up(server, sku, email))["alert"]["id"]
    await send_mail(server)
    await confirm(server, token_of(confirmations(sink, email)[0]))

    await admin(server, stock(sku, 5))
    await release(server)
    await send_mail(server)

    [message] = alerts_to(sink, email)
    assert str(message["Subject"]).startswith(f"Good news: Lamp {sku} is available")
    text = text_of(message)
    assert "Now in stock" in text
    assert f"Lamp {sku} is in stock now and ready to send." in text
    assert "Add to cart" in text
    assert f"{HOLD_MINUTES} minutes" in text

    seen = (await server.gql(NODE, {"id": alert_id})).data["node"]
    assert seen["status"] == "NOTIFIED"
    assert seen["openedState"] == "IN_STOCK"
    assert seen["notifiedAt"] is not None
    hidden = await server.gql(NODE, {"id": alert_id}, anonymous=True)
    assert hidden.data["node"] is None
    no_email = await server.gql(
        'mutation { requestAvailabilityAlert(input: {sku: "x", email: "y"}) { alert { email } } }',
        anonymous=True,
    )
    assert no_email.errors  # the address is never part of the answer


# ---------------------------------------------------------------- bad input changes nothing


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("not-an-address", "INVALID_EMAIL", "email"),
        ("overlong-address", "INVALID_EMAIL", "email"),
        ("unknown-sku", "NOT_FOUND", "sku"),
        ("unknown-channel", "UNKNOWN_CHANNEL", "channel"),
        ("in-stock", "NOT_SOLD_OUT", "sku"),
        ("backorderable", "NOT_SOLD_OUT", "sku"),
    ],
)
async def test_a_bad_sign_up_is_refused_and_changes_nothing(
    server: LiveServer, sink: Sink, case: str, code: str, field: str
) -> None:
    sku = new_sku("AL-BAD")
    await product(server, sku)
    email = address("bad")
    channel = None
    match case:
        case "not-an-address":
            email = "not an address@"
        case "overlong-address":
            email = "a" * 64 + "@" + ".".join(["b" * 60] * 5) + ".com"
        case "unknown-sku":
            sku = new_sku("AL-NONE")
        case "unknown-channel":
            channel = "no-such-channel"
        case "in-stock":
            await admin(server, stock(sku, 3))
        case "backorderable":
            await admin(server, f'configureBackorder(input: {{sku: "{sku}", allowed: true}})')

    payload = await sign_up(server, sku, email, channel)
    await send_mail(server)

    assert payload["alert"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, ["input", field])]
    assert await statuses(server, sku) == {}
    assert await alert_events(server, sku) == []
    assert sink.to(email) == []


async def test_a_channel_sign_up_counts_that_channels_availability(
    server: LiveServer, sink: Sink
) -> None:
    sku = new_sku("AL-CHN")
    await product(server, sku)
    email = address("channel")

    payload = await sign_up(server, sku, email, "marketplace")

    assert payload["userErrors"] == []
    assert payload["alert"]["status"] == "PENDING"


async def test_the_twenty_first_open_alert_of_one_address_is_refused(
    server: LiveServer, sink: Sink
) -> None:
    prefix = new_sku("AL-MANY")
    skus = [f"{prefix}-{i:02d}" for i in range(21)]
    for chunk in (skus[:11], skus[11:]):  # at most 15 aliases a request
        body = " ".join(
            f'p{i}: createProduct(input: {{sku: "{sku}", name: "Lamp {sku}"}}) {{ userErrors {{ code }} }}'
            for i, sku in enumerate(chunk)
        )
        created = await server.gql(f"mutation {{ {body} }}")
        assert all(p["userErrors"] == [] for p in created.data.values())
    email = address("collector")

    for sku in skus[:20]:
        assert (await sign_up(server, sku, email))["userErrors"] == []
    refused = await sign_up(server, skus[20], email)
    await send_mail(server)

    assert refused["alert"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("TOO_MANY_ALERTS", ["input", "email"])
    ]
    assert await statuses(server, skus[20]) == {}
    assert await alert_events(server, skus[20]) == []
    assert len(sink.to(email)) == 20
    assert not any(skus[20] in str(m["Subject"]) for m in sink.to(email))
    # a repeat of an open one is still answered (it is not a new alert)
    assert (await sign_up(server, skus[0], email))["userErrors"] == []
    # and another address is not limited by this one
    assert (await sign_up(server, skus[20], address("other")))["userErrors"] == []
