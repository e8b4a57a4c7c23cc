"""The channel intake over HTTP: signed webhooks per channel, adapters for three payload
shapes, per-channel and per-account rules, idempotency on (channel, external id), raw
storage, failures classified INVALID / RETRYING / DEAD with an impact score, retry, replay,
discard, health and retention."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from app.domain.intake.signatures import sign
from app.storage.database import to_asyncpg_dsn
from tests.api.placement_helpers import product, run
from tests.support import LiveServer, live_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
SECRETS = {
    "marketplace": ["mk-new-secret", "mk-old-secret"],
    "webstore": ["web-secret"],
    "pos": ["till-secret"],
    "b2b": ["b2b-secret"],
}

CONFIGURE = """mutation($input: ConfigureIntakeChannelInput!) {
  configureIntakeChannel(input: $input) {
    channel { channel adapter rules { requirePhone allowPreorder } accounts { account } }
    userErrors { field code message }
  }
}"""
ACCOUNT = """mutation($input: SetIntakeAccountRulesInput!) {
  setIntakeAccountRules(input: $input) { userErrors { field code message } }
}"""
MAP = """mutation($c: String!, $m: [ChannelSkuMappingInput!]!) {
  mapChannelSkus(input: {channel: $c, mappings: $m}) {
    mapped userErrors { field code message }
  }
}"""
MESSAGE_FIELDS = """id channel externalId account status attempts deliveries errorCode errorMessage
  errors { field code message detail } impactScore units value { amountMinor currency }
  slaDeadline receivedAt nextAttemptAt payloadRetained order { number }"""
FAILURES = f"""query($c: String, $s: [IntakeStatus!], $o: IntakeFailureOrder!, $first: Int,
                     $after: String) {{
  intakeFailures(channel: $c, status: $s, orderBy: $o, first: $first, after: $after) {{
    totalCount edges {{ cursor node {{ {MESSAGE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
RETRY = f"""mutation($id: ID!) {{
  retryIntake(input: {{id: $id}}) {{ message {{ {MESSAGE_FIELDS} }} userErrors {{ field code message }} }}
}}"""
REPLAY = """mutation($f: IntakeReplayFilter!) {
  replayIntake(input: {filter: $f}) { messages { id status } userErrors { field code message } }
}"""
DISCARD = """mutation($id: ID!, $r: String!) {
  discardIntake(input: {id: $id, reason: $r}) { message { status } userErrors { field code message } }
}"""
HEALTH = """{ intakeHealth { channel received accepted rejected retrying dead discarded duplicates
  p50Ms p99Ms } }"""
RUN_JOB = "mutation($j: ScheduledJob!) { runScheduledJob(input: {job: $j}) { ran result } }"


@pytest_asyncio.fixture(scope="module")
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(
        database_url,
        intake_secrets=SECRETS,
        intake_lock_timeout_ms=200,
        intake_max_attempts=3,
        intake_retry_base_seconds=1,
        intake_retry_max_seconds=5,
    ) as live:
        await configure(live, "marketplace", "MARKETPLACE", {"requirePhone": False})
        await configure(live, "webstore", "NATIVE", {"requirePhone": True})
        await configure(live, "pos", "TILL", {"requireEmail": True})
        await configure(live, "b2b", "NATIVE", {})
        for sku in ("MP-A", "MP-B", "NATIVE-INTAKE-A", "NATIVE-INTAKE-B", "TILL-INTAKE-A"):
            await product(
                live, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 500}})'
            )
        await product(live, "TILL-INTAKE-B", price=450)
        await product(live, "LOCKED-INTAKE")
        await run(live, 'setStock(input: {sku: "LOCKED-INTAKE", location: "main", quantity: 50})')
        await run(live, 'setStock(input: {sku: "TILL-INTAKE-B", location: "main", quantity: 500})')
        result = await live.gql(
            MAP,
            {
                "c": "marketplace",
                "m": [
                    {"externalSku": "MP-INTAKE-A", "sku": "MP-A"},
                    {"externalSku": "MP-INTAKE-B", "sku": "MP-B"},
                    {"externalSku": "MP-LOCKED", "sku": "LOCKED-INTAKE"},
                ],
            },
        )
        assert result.data["mapChannelSkus"] == {"mapped": 3, "userErrors": []}
        yield live


async def configure(server: LiveServer, channel: str, adapter: str, rules: dict[str, Any]) -> Any:
    result = await server.gql(
        CONFIGURE, {"input": {"channel": channel, "adapter": adapter, "rules": rules}}
    )
    payload = result.data["configureIntakeChannel"]
    assert payload["userErrors"] == [], payload
    return payload["channel"]


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def marketplace_order(order_id: str | None = None, **changes: Any) -> dict[str, Any]:
    data = fixture_json("marketplace_order.json")
    data["order_id"] = order_id or f"405-{uuid.uuid4().hex[:12]}"
    data.update(changes)
    return data


async def deliver(
    server: LiveServer,
    channel: str,
    body: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    at: int | None = None,
    path: str = "",
    content_type: str = "application/json",
    signature: str | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    timestamp = at if at is not None else int(server.clock().timestamp())
    header = signature or sign(secret or SECRETS[channel][0], timestamp, raw)
    return await server.client.post(
        f"/intake/{channel}{path}",
        content=raw,
        headers={"X-OMS-Signature": header, "Content-Type": content_type},
    )


async def message_rows(server: LiveServer, channel: str, external_id: str) -> list[Any]:
    return await server.sql(
        "SELECT * FROM intake_messages WHERE channel_code = $1 AND external_id = $2",
        channel,
        external_id,
    )


async def orders_of(server: LiveServer, channel: str, key: str) -> int:
    (row,) = await server.sql(
        "SELECT count(*) AS n FROM orders o JOIN idempotency_keys k ON k.order_id = o.id "
        "WHERE k.scope = $1 AND k.key LIKE $2",
        f"intake:{channel}|{channel}",
        f"{key}%",
    )
    return int(row["n"])


# ---------------------------------------------------------------- adapters end to end


async def test_a_marketplace_webhook_becomes_an_order_through_the_channels_sku_map(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    response = await deliver(server, "marketplace", data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ACCEPTED"
    assert body["externalId"] == data["order_id"]
    assert body["duplicate"] is False
    result = await server.gql(
        "query($n: String!) { orderByNumber(number: $n) { channel customer { email name } "
        "lines { sku quantity } } }",
        {"n": body["order"]["number"]},
    )
    order = result.data["orderByNumber"]
    assert order["channel"] == "marketplace"
    assert order["customer"] == {"email": "x7k2mq8v@marketplace.example", "name": "Grace Hopper"}
    assert sorted((ln["sku"], ln["quantity"]) for ln in order["lines"]) == [
        ("MP-A", 2),
        ("MP-B", 1),
    ]
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert row["status"] == "ACCEPTED"
    assert bytes(row["payload"]) == json.dumps(data).encode()  # stored raw, as received
    assert row["account"] == "acme-eu"
    assert row["value_minor"] == 10997
    events = await server.sql(
        "SELECT kind, actor FROM events WHERE subject = 'INTAKE' AND subject_id = $1",
        str(row["id"]),
    )
    assert [(e["kind"], e["actor"]) for e in events] == [("intake.accepted", "intake:marketplace")]


async def test_a_native_webhook_places_as_place_order_would(server: LiveServer) -> None:
    data = fixture_json("native_order.json")
    data["externalId"] = f"WEB-{uuid.uuid4().hex[:8]}"
    response = await deliver(server, "webstore", data)
    assert response.status_code == 200, response.text
    number = response.json()["order"]["number"]
    result = await server.gql(
        "query($n: String!) { orderByNumber(number: $n) { customer { email } lines { sku "
        "quantity state } } }",
        {"n": number},
    )
    order = result.data["orderByNumber"]
    assert order["customer"]["email"] == "ada.lovelace@example.com"  # normalised as placeOrder does
    assert sorted(ln["sku"] for ln in order["lines"]) == ["NATIVE-INTAKE-A", "NATIVE-INTAKE-B"]


# ---------------------------------------------------------------- signatures


async def test_a_bad_signature_or_a_stale_timestamp_is_refused_and_nothing_is_stored(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    now = int(server.clock().timestamp())
    wrong = await deliver(server, "marketplace", data, secret="not-the-secret")
    stale = await deliver(server, "marketplace", data, at=now - 301)
    future = await deliver(server, "marketplace", data, at=now + 301)
    missing = await server.client.post("/intake/marketplace", json=data)
    for response, detail in (
        (wrong, "MISMATCH"),
        (stale, "STALE"),
        (future, "STALE"),
        (missing, "MISSING"),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
        assert response.json()["error"]["detail"] == detail
    assert await message_rows(server, "marketplace", data["order_id"]) == []
    unknown = await deliver(server, "marketplace", data, path="", signature="t=1,v1=" + "0" * 64)
    assert unknown.status_code == 401
    nowhere = await server.client.post("/intake/nowhere", content=b"{}")
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["code"] == "UNKNOWN_CHANNEL"


async def test_both_secrets_of_a_rotation_are_accepted(server: LiveServer) -> None:
    for secret in SECRETS["marketplace"]:
        response = await deliver(server, "marketplace", marketplace_order(), secret=secret)
        assert response.status_code == 200, response.text


# ---------------------------------------------------------------- idempotency


async def test_three_concurrent_deliveries_of_one_webhook_make_one_order_and_one_answer(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    raw = json.dumps(data).encode()
    signature = sign(SECRETS["marketplace"][0], int(server.clock().timestamp()), raw)
    responses = await asyncio.gather(
        *(deliver(server, "marketplace", raw, signature=signature) for _ in range(3))
    )
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    numbers = {r.json()["order"]["number"] for r in responses}
    assert len(numbers) == 1
    assert await orders_of(server, "marketplace", data["order_id"]) == 1
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert row["deliveries"] == 3
    # a fourth, later, is answered from what was recorded
    again = await deliver(server, "marketplace", data)
    assert again.json()["order"]["number"] in numbers
    assert again.json()["duplicate"] is True


async def test_the_same_order_id_with_other_content_is_a_conflict_and_the_first_stands(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    assert (await deliver(server, "marketplace", data)).status_code == 200
    changed = {**data, "order_total": {"amount": "1.00", "currency": "EUR"}}
    response = await deliver(server, "marketplace", changed)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert row["status"] == "ACCEPTED"
    assert row["value_minor"] == 10997


# ---------------------------------------------------------------- refusals


async def test_an_invalid_payload_is_answered_with_every_reason_and_kept(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    data["items"][0]["quantity_ordered"] = -1
    del data["shipping_address"]
    response = await deliver(server, "marketplace", data)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "INVALID"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("shipping_address", "MISSING_FIELD"),
        ("items[0].quantity_ordered", "INVALID_FIELD"),
    }
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert row["status"] == "INVALID"
    assert row["payload"] is not None
    # not JSON at all: stored too, and refused
    garbage = await deliver(server, "marketplace", b"<order>nope</order>")
    assert garbage.status_code == 422
    assert garbage.json()["errors"][0]["code"] == "MALFORMED"


async def test_an_unmapped_sku_is_refused_and_a_replay_after_mapping_places_it(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    data["items"] = [{**data["items"][0], "seller_sku": "MP-NEW-CODE"}]
    response = await deliver(server, "marketplace", data)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "UNMAPPED_SKU"
    intake_id = response.json()["intakeId"]
    result = await server.gql(
        MAP, {"c": "marketplace", "m": [{"externalSku": "MP-NEW-CODE", "sku": "MP-A"}]}
    )
    assert result.data["mapChannelSkus"]["userErrors"] == []
    retried = (await server.gql(RETRY, {"id": intake_id})).data["retryIntake"]
    assert retried["userErrors"] == []
    assert retried["message"]["status"] == "ACCEPTED"
    assert retried["message"]["order"]["number"]
    assert await orders_of(server, "marketplace", data["order_id"]) == 1


async def test_a_placement_refusal_is_replayed_under_a_new_key_once_fixed(
    server: LiveServer,
) -> None:
    await product(server, "SCARCE-INTAKE")
    await run(server, 'setStock(input: {sku: "SCARCE-INTAKE", location: "main", quantity: 1})')
    data = fixture_json("native_order.json")
    data["externalId"] = f"WEB-{uuid.uuid4().hex[:8]}"
    data["lines"] = [{"sku": "SCARCE-INTAKE", "quantity": 2, "acceptBackorder": False}]
    response = await deliver(server, "webstore", data)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["code"], error["detail"]) == ("PLACEMENT", "SOLD_OUT")
    await run(server, 'setStock(input: {sku: "SCARCE-INTAKE", location: "main", quantity: 5})')
    retried = (await server.gql(RETRY, {"id": response.json()["intakeId"]})).data["retryIntake"]
    assert retried["message"]["status"] == "ACCEPTED"
    assert await orders_of(server, "webstore", data["externalId"]) == 1


# ---------------------------------------------------------------- rules per channel and account


async def test_a_marketplace_order_without_a_phone_passes_where_the_webstore_requires_one(
    server: LiveServer,
) -> None:
    assert (await deliver(server, "marketplace", marketplace_order())).status_code == 200
    data = fixture_json("native_order.json")
    data["externalId"] = f"WEB-{uuid.uuid4().hex[:8]}"
    del data["customer"]["phone"]
    response = await deliver(server, "webstore", data)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "customer.phone",
            "code": "RULE",
            "message": "This channel requires a phone number.",
            "detail": None,
        }
    ]


async def test_a_b2b_account_may_exceed_the_per_customer_limit_that_binds_others(
    server: LiveServer,
) -> None:
    await run(
        server,
        'setChannelLimits(input: {channel: "b2b", maxUnitsPerLine: 1000, maxUnitsPerCustomerSku: 5})',
    )
    result = await server.gql(
        ACCOUNT,
        {
            "input": {
                "channel": "b2b",
                "account": "wholesale-42",
                "rules": {"enforceCustomerLimits": False},
            }
        },
    )
    assert result.data["setIntakeAccountRules"]["userErrors"] == []

    def order(account: str | None) -> dict[str, Any]:
        return {
            "externalId": f"B2B-{uuid.uuid4().hex[:8]}",
            "account": account,
            "customer": {"email": "buyer@wholesale.example", "name": "Buyer"},
            "shippingAddress": {"region": "EU", "postalCode": "1011"},
            "lines": [{"sku": "NATIVE-INTAKE-A", "quantity": 20}],
        }

    bound = await deliver(server, "b2b", order(None))
    assert bound.status_code == 422
    assert bound.json()["errors"][0]["detail"] == "LIMIT_EXCEEDED"
    free = await deliver(server, "b2b", order("wholesale-42"))
    assert free.status_code == 200, free.text


async def test_a_channel_that_takes_no_preorders_refuses_a_preorder_line(
    server: LiveServer,
) -> None:
    await product(
        server,
        "LAUNCH-INTAKE",
        'configurePreorder(input: {sku: "LAUNCH-INTAKE", enabled: true, releaseDate: "2031-07-01", cap: 100})',
    )
    await configure(server, "b2b", "NATIVE", {"allowPreorder": False})
    order = {
        "externalId": f"B2B-{uuid.uuid4().hex[:8]}",
        "customer": {"email": "buyer@wholesale.example", "name": "Buyer"},
        "lines": [{"sku": "LAUNCH-INTAKE", "quantity": 1}],
    }
    refused = await deliver(server, "b2b", order)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["detail"] == "PREORDER_NOT_ACCEPTED"
    await configure(server, "b2b", "NATIVE", {})
    accepted = await deliver(server, "b2b", {**order, "externalId": order["externalId"] + "-2"})
    assert accepted.status_code == 200, accepted.text


# ---------------------------------------------------------------- till batches


async def test_a_till_batch_with_bad_rows_accepts_the_others_and_reports_the_bad_ones(
    server: LiveServer,
) -> None:
    await server.gql(
        ACCOUNT,
        {
            "input": {
                "channel": "pos",
                "account": "S01",
                "rules": {"fallbackEmail": "shop-s01@example.com", "fallbackName": "Shop S01"},
            }
        },
    )
    csv_body = (FIXTURES / "till_batch.csv").read_bytes()
    response = await deliver(server, "pos", csv_body, path="/batch", content_type="text/csv")
    assert response.status_code == 200, response.text
    body = response.json()
    outcome = {r["externalId"]: (r["status"], r["rows"]) for r in body["receipts"]}
    assert outcome == {
        "S01-20261201-0041": ("ACCEPTED", [1, 2]),
        "S01-20261201-0042": ("ACCEPTED", [3]),
        "S01-20261201-0043": ("INVALID", [4]),
        "S01-20261201-0044": ("ACCEPTED", [6]),
    }
    assert [(b["row"], b["code"]) for b in body["badRows"]] == [(5, "MISSING_FIELD")]
    assert body["counts"] == {"ACCEPTED": 3, "INVALID": 1}
    bad = next(r for r in body["receipts"] if r["status"] == "INVALID")
    assert bad["errors"][0]["field"] == "rows[0].quantity"
    # the walk-in sale took the shop's contact; the named customer kept theirs
    emails = await server.sql(
        "SELECT m.external_id, o.customer_email FROM intake_messages m JOIN orders o "
        "ON o.id = m.order_id WHERE m.batch_id = $1 ORDER BY m.external_id",
        body["batchId"],
    )
    assert [(r["external_id"], r["customer_email"]) for r in emails] == [
        ("S01-20261201-0041", "shop-s01@example.com"),
        ("S01-20261201-0042", "linus@example.com"),
        ("S01-20261201-0044", "shop-s01@example.com"),
    ]
    # the same upload again: nothing new, every receipt answered as before
    again = (await deliver(server, "pos", csv_body, path="/batch", content_type="text/csv")).json()
    assert {r["externalId"]: r["status"] for r in again["receipts"]} == {
        k: v[0] for k, v in outcome.items()
    }
    assert all(r["duplicate"] for r in again["receipts"])


async def test_a_json_lines_batch_without_a_fallback_contact_refuses_walk_in_sales(
    server: LiveServer,
) -> None:
    body = (FIXTURES / "till_batch.jsonl").read_bytes()
    response = await deliver(
        server, "pos", body, path="/batch", content_type="application/x-ndjson"
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert {r["externalId"]: r["status"] for r in result["receipts"]} == {
        "S02-20261201-0007": "INVALID",  # no e-mail, and shop S02 has no fallback
        "S02-20261201-0008": "ACCEPTED",
    }
    assert result["badRows"] == [
        {
            "row": 3,
            "field": "row 3",
            "code": "MALFORMED",
            "message": "Not a row of the batch's format.",
        }
    ]
    wrong_type = await deliver(server, "pos", body, path="/batch", content_type="application/xml")
    assert wrong_type.status_code == 415
    not_a_till = await deliver(server, "marketplace", body, path="/batch", content_type="text/csv")
    assert not_a_till.status_code == 415


# ---------------------------------------------------------------- retries, dead letters, replay


async def hold_pools(server: LiveServer, sku: str) -> tuple[asyncpg.Connection, Any]:
    """Another transaction holding the SKU's pool rows: placement waits, then gives up."""
    conn = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    tx = conn.transaction()
    await tx.start()
    await conn.execute(
        "SELECT 1 FROM inventory_pools p JOIN products pr ON pr.id = p.product_id "
        "WHERE pr.sku = $1 FOR UPDATE",
        sku,
    )
    return conn, tx


async def run_retries(server: LiveServer) -> Any:
    server.clock.advance(seconds=30)  # past any back-off of these settings
    result = await server.gql(RUN_JOB, {"j": "RETRY_INTAKE"})
    return result.data["runScheduledJob"]


async def test_a_retryable_failure_is_answered_202_and_retried_until_it_is_an_order(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    data["items"] = [{**data["items"][0], "seller_sku": "MP-LOCKED", "quantity_ordered": 1}]
    conn, tx = await hold_pools(server, "LOCKED-INTAKE")
    try:
        response = await deliver(server, "marketplace", data)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "RETRYING"
        assert "retryAt" in response.json()
        (row,) = await message_rows(server, "marketplace", data["order_id"])
        assert (row["status"], row["attempts"], row["error_code"]) == ("RETRYING", 1, "TRANSIENT")
    finally:
        await tx.rollback()
        await conn.close()
    job = await run_retries(server)
    assert job["ran"] is True
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert row["status"] == "ACCEPTED"
    assert row["attempts"] == 2
    assert await orders_of(server, "marketplace", data["order_id"]) == 1


async def test_a_dead_letter_after_n_attempts_carries_its_impact_and_a_replay_succeeds(
    server: LiveServer,
) -> None:
    await product(server, "DEAD-INTAKE", price=25000)
    await run(server, 'setStock(input: {sku: "DEAD-INTAKE", location: "main", quantity: 10})')
    await server.gql(
        MAP, {"c": "marketplace", "m": [{"externalSku": "MP-DEAD", "sku": "DEAD-INTAKE"}]}
    )
    data = marketplace_order()
    data["items"] = [
        {
            **data["items"][0],
            "seller_sku": "MP-DEAD",
            "quantity_ordered": 2,
            "item_price": {"amount": "500.00", "currency": "EUR"},
        }
    ]
    data["order_total"] = {"amount": "500.00", "currency": "EUR"}
    data["latest_ship_date"] = (server.clock().replace(microsecond=0)).isoformat()
    conn, tx = await hold_pools(server, "DEAD-INTAKE")
    try:
        assert (await deliver(server, "marketplace", data)).status_code == 202
        await run_retries(server)
        await run_retries(server)  # the third attempt: DEAD (OMS_INTAKE_MAX_ATTEMPTS=3)
    finally:
        await tx.rollback()
        await conn.close()
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert (row["status"], row["attempts"]) == ("DEAD", 3)
    failures = (await server.gql(FAILURES, {"c": "marketplace", "s": ["DEAD"], "o": "IMPACT"})).data
    node = next(
        e["node"]
        for e in failures["intakeFailures"]["edges"]
        if e["node"]["externalId"] == data["order_id"]
    )
    assert node["status"] == "DEAD"
    assert node["attempts"] == 3
    assert node["errorCode"] == "TRANSIENT"
    assert node["value"] == {"amountMinor": 50000, "currency": "EUR"}
    assert node["units"] == 2
    # (500 + 10 x 2) x 3: its dispatch deadline has passed
    assert node["impactScore"] == 1560.0
    dead_event = await server.sql(
        "SELECT payload FROM events WHERE kind = 'intake.dead' AND subject_id = $1",
        str(row["id"]),
    )
    assert len(dead_event) == 1
    replay = (
        await server.gql(REPLAY, {"f": {"channel": "marketplace", "statuses": ["DEAD"]}})
    ).data
    assert replay["replayIntake"]["userErrors"] == []
    assert node["id"] in {m["id"] for m in replay["replayIntake"]["messages"]}
    await run_retries(server)
    (row,) = await message_rows(server, "marketplace", data["order_id"])
    assert row["status"] == "ACCEPTED"
    assert await orders_of(server, "marketplace", data["order_id"]) == 1


async def test_failures_are_listed_by_impact_and_paged(server: LiveServer) -> None:
    cheap, dear = marketplace_order(), marketplace_order()
    cheap["items"] = [{**cheap["items"][0], "seller_sku": "UNMAPPED-1", "quantity_ordered": 1}]
    cheap["order_total"] = {"amount": "5.00", "currency": "EUR"}
    dear["items"] = [{**dear["items"][0], "seller_sku": "UNMAPPED-2", "quantity_ordered": 1}]
    dear["order_total"] = {"amount": "900.00", "currency": "EUR"}
    for data in (cheap, dear):
        assert (await deliver(server, "marketplace", data)).status_code == 422
    first = (await server.gql(FAILURES, {"c": "marketplace", "o": "IMPACT", "first": 1})).data
    page = first["intakeFailures"]
    scores = [page["edges"][0]["node"]["impactScore"]]
    after = page["pageInfo"]["endCursor"]
    while page["pageInfo"]["hasNextPage"]:
        page = (
            await server.gql(
                FAILURES, {"c": "marketplace", "o": "IMPACT", "first": 50, "after": after}
            )
        ).data["intakeFailures"]
        scores += [e["node"]["impactScore"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == first["intakeFailures"]["totalCount"]
    ids = [
        e["node"]["externalId"]
        for e in (
            await server.gql(FAILURES, {"c": "marketplace", "o": "IMPACT", "first": 100})
        ).data["intakeFailures"]["edges"]
    ]
    assert ids.index(dear["order_id"]) < ids.index(cheap["order_id"])


async def test_a_discarded_payload_leaves_the_failures_and_records_who_and_why(
    server: LiveServer,
) -> None:
    data = marketplace_order()
    data["items"] = [{**data["items"][0], "seller_sku": "UNMAPPED-TEST"}]
    response = await deliver(server, "marketplace", data)
    intake_id = response.json()["intakeId"]
    empty = (await server.gql(DISCARD, {"id": intake_id, "r": " "})).data["discardIntake"]
    assert empty["userErrors"][0]["code"] == "INVALID"
    done = (await server.gql(DISCARD, {"id": intake_id, "r": "A test order"})).data["discardIntake"]
    assert done == {"message": {"status": "DISCARDED"}, "userErrors": []}
    again = (await server.gql(RETRY, {"id": intake_id})).data["retryIntake"]
    assert again["userErrors"][0]["code"] == "NOT_RETRYABLE"
    (event,) = await server.sql(
        "SELECT actor, payload FROM events WHERE kind = 'intake.discarded' AND subject_id = $1",
        str((await message_rows(server, "marketplace", data["order_id"]))[0]["id"]),
    )
    assert json.loads(event["payload"])["reason"] == "A test order"
    assert event["actor"].endswith("tests-ops")


# ---------------------------------------------------------------- ops access, health, retention


async def test_intake_views_and_changes_are_for_ops_only(server: LiveServer) -> None:
    channel_key = await server.key_with("channel:marketplace")
    result = await server.gql(FAILURES, {"o": "IMPACT"}, key=channel_key)
    assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"
    result = await server.gql(
        CONFIGURE, {"input": {"channel": "marketplace", "adapter": "TILL"}}, key=channel_key
    )
    assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await server.gql(HEALTH, anonymous=True)
    assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_configuration_mistakes_get_typed_errors_and_change_nothing(
    server: LiveServer,
) -> None:
    bad = (
        await server.gql(CONFIGURE, {"input": {"channel": "marketplace", "adapter": "FAX"}})
    ).data
    assert bad["configureIntakeChannel"]["userErrors"][0]["code"] == "UNKNOWN_ADAPTER"
    bad = (await server.gql(CONFIGURE, {"input": {"channel": "nowhere", "adapter": "NATIVE"}})).data
    assert bad["configureIntakeChannel"]["userErrors"][0]["code"] == "UNKNOWN_CHANNEL"
    bad = (
        await server.gql(
            CONFIGURE,
            {"input": {"channel": "webstore", "adapter": "NATIVE", "rules": {"maxLines": 0}}},
        )
    ).data
    assert bad["configureIntakeChannel"]["userErrors"][0]["code"] == "INVALID_RULE"
    bad = (
        await server.gql(MAP, {"c": "marketplace", "m": [{"externalSku": "X", "sku": "NO-SUCH"}]})
    ).data
    assert bad["mapChannelSkus"]["userErrors"][0]["code"] == "UNKNOWN_SKU"
    channels = (
        await server.gql("{ intakeChannels { channel adapter rules { requirePhone } } }")
    ).data
    webstore = next(c for c in channels["intakeChannels"] if c["channel"] == "webstore")
    assert webstore == {"channel": "webstore", "adapter": "NATIVE", "rules": {"requirePhone": True}}


async def test_health_per_channel_is_in_graphql_and_in_metrics(server: LiveServer) -> None:
    assert (await deliver(server, "marketplace", marketplace_order())).status_code == 200
    health = {h["channel"]: h for h in (await server.gql(HEALTH)).data["intakeHealth"]}
    market = health["marketplace"]
    assert market["received"] >= market["accepted"] >= 1
    assert market["rejected"] >= 1
    assert market["p99Ms"] is not None
    assert market["p99Ms"] >= market["p50Ms"] >= 0
    metrics = (await server.client.get("/metrics")).text
    assert 'oms_intake_messages_total{channel="marketplace",outcome="accepted"}' in metrics
    assert 'oms_intake_messages_total{channel="marketplace",outcome="unauthenticated"}' in metrics
    assert 'oms_intake_seconds_count{channel="marketplace"}' in metrics
    # channels nobody configured never become series
    await server.client.post("/intake/made-up-channel", content=b"{}")
    assert "made-up-channel" not in (await server.client.get("/metrics")).text


async def test_raw_payloads_are_emptied_after_the_retention_period_and_never_logged(
    server: LiveServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    data = marketplace_order()
    data["buyer"]["email"] = "secret-person@example.com"
    data["items"] = [{**data["items"][0], "seller_sku": "UNMAPPED-PII"}]
    assert (await deliver(server, "marketplace", data)).status_code == 422
    locked = marketplace_order()  # a failure that is logged (a retryable one)
    locked["buyer"]["email"] = "secret-person@example.com"
    locked["items"] = [{**locked["items"][0], "seller_sku": "MP-LOCKED", "quantity_ordered": 1}]
    conn, tx = await hold_pools(server, "LOCKED-INTAKE")
    try:
        assert (await deliver(server, "marketplace", locked)).status_code == 202
    finally:
        await tx.rollback()
        await conn.close()
    out, err = capfd.readouterr()
    assert "intake_attempt_failed" in out + err + caplog.text  # the log is captured here
    assert "secret-person" not in out + err + caplog.text
    server.clock.advance(days=31)
    try:
        result = await server.gql(RUN_JOB, {"j": "PURGE_INTAKE_PAYLOADS"})
        assert result.data["runScheduledJob"]["ran"] is True
        (row,) = await message_rows(server, "marketplace", data["order_id"])
        assert row["payload"] is None
        assert row["purged_at"] is not None
        assert row["status"] == "INVALID"  # what became of it is kept
        retry = (await server.gql(RETRY, {"id": _intake_id(row["id"])})).data["retryIntake"]
        assert retry["userErrors"][0]["code"] == "PAYLOAD_PURGED"
        (batches,) = await server.sql(
            "SELECT count(*) AS n FROM intake_batches WHERE payload IS NOT NULL "
            "AND received_at < $1",
            server.clock() - __import__("datetime").timedelta(days=30),
        )
        assert batches["n"] == 0
    finally:
        server.clock.advance(days=-31)


def _intake_id(number: int) -> str:
    from graphql_schema.relay import global_id

    return str(global_id("IntakeMessage", str(number)))
