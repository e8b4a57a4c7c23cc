"""The compiled trusted placeOrder answers exactly what the normal executor answers.

Each comparison places the same request twice, once through the compiled path (the trusted
document by hash) and once through the executor (the same text with one more comment line, so
not a trusted text), on twin products set up identically (``EQF-*`` for the compiled path,
``EQS-*`` for the executor): both sides see the same stock, caps and queues at every step.
Fresh orders differ only in their id, number and token; replays, user errors, auth errors and
bad variables must match byte for byte.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import orjson
import pytest

from app.services.orders import placement as order_service
from app.services.orders.placement import LineInput, PlaceOrderInput
from app.services.results import Actor
from app.storage import orders as store
from app.web.documents import TRUSTED_DIR, sha256
from graphql_schema.compiled import CompiledPlaceOrder
from graphql_schema.compiled import place_order as compiled_place_order
from graphql_schema.orders.mutations import order_place
from tests.support import LiveServer

PLACE = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")
PLACE_HASH = sha256(PLACE)
PLACE_UNCOMPILED = PLACE + "# not trusted: the same lines and columns, another text\n"

SIDES = ("EQF", "EQS")  # compiled, executor


def _setup(prefix: str) -> list[str]:
    return [
        f'createProduct(input: {{sku: "{prefix}-READY", name: "Ready", '
        "price: {amountMinor: 1500, currency: EUR}}) "
        "{ userErrors { code } }",
        f'setStock(input: {{sku: "{prefix}-READY", location: "main", quantity: 200}}) '
        "{ userErrors { code } }",
        f'allocateChannelPool(input: {{sku: "{prefix}-READY", channel: "marketplace", '
        "quantity: 6}) { userErrors { code } }",
        f'createProduct(input: {{sku: "{prefix}-PRE", name: "Pre", '
        "price: {amountMinor: 9900, currency: EUR}}) "
        "{ userErrors { code } }",
        f'configurePreorder(input: {{sku: "{prefix}-PRE", enabled: true, '
        'releaseDate: "2031-07-01", cap: 40, paymentTerms: {kind: DEPOSIT, depositPercent: 25}}) '
        "{ userErrors { code } }",
        f'createProduct(input: {{sku: "{prefix}-LTD", name: "Limited", '
        "price: {amountMinor: 5000, currency: EUR}, "
        'tags: ["LIMITED_RUN"]}) { userErrors { code } }',
        f'configurePreorder(input: {{sku: "{prefix}-LTD", enabled: true, '
        'releaseDate: "2031-08-01", cap: 3, paymentTerms: {kind: AUTHORIZE}}) '
        "{ userErrors { code } }",
        f'createProduct(input: {{sku: "{prefix}-BACK", name: "Back", '
        "price: {amountMinor: 2500, currency: EUR}}) "
        "{ userErrors { code } }",
        f'setStock(input: {{sku: "{prefix}-BACK", location: "main", quantity: 2}}) '
        "{ userErrors { code } }",
        f'configureBackorder(input: {{sku: "{prefix}-BACK", allowed: true, cap: 120, '
        "paymentTerms: {kind: DEPOSIT, depositAmount: {amountMinor: 500, currency: EUR}}}) "
        "{ userErrors { code } }",
        f'createProduct(input: {{sku: "{prefix}-GONE", name: "Gone"}}) {{ userErrors {{ code }} }}',
        f'createProduct(input: {{sku: "{prefix}-USD", name: "Dollars", '
        "price: {amountMinor: 0, currency: USD}}) "
        "{ userErrors { code } }",
        f'setStock(input: {{sku: "{prefix}-USD", location: "main", quantity: 50}}) '
        "{ userErrors { code } }",
    ]


@pytest.fixture(scope="module")
async def catalog(server: LiveServer) -> LiveServer:
    from datetime import date

    for prefix in SIDES:
        for i, mutation in enumerate(_setup(prefix)):
            result = await server.gql(f"mutation M{i} {{ {mutation} }}")
            (payload,) = result.data.values()
            assert payload["userErrors"] == [], mutation
    server.clock.set_today(date(2031, 6, 1))
    return server


async def _send(
    server: LiveServer,
    compiled: bool,
    variables: Any,
    key: str | None,
    *,
    by_text: bool = False,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    body: dict[str, Any] = {"operationName": "PlaceOrder", "variables": variables}
    if compiled and not by_text:
        body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": PLACE_HASH}}
    else:
        body["query"] = PLACE if compiled else PLACE_UNCOMPILED
    headers = dict(extra_headers or {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    response = await server.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200
    return response.content


def _mirror(value: Any) -> Any:
    """The executor side's twin of a request: EQF-* SKUs become EQS-*, and its own key."""
    twin = orjson.loads(orjson.dumps(value).replace(b"EQF-", b"EQS-"))
    data = twin.get("input") if isinstance(twin, dict) else None
    if isinstance(data, dict) and isinstance(data.get("idempotencyKey"), str):
        data["idempotencyKey"] = "twin-" + data["idempotencyKey"]
    return twin


def _normalise(answer: bytes, side: str) -> tuple[Any, list[str]]:
    """The answer with its fresh order's id, number and token replaced (returned apart)."""
    parsed = orjson.loads(answer.replace(f"{side}-".encode(), b"EQ*-").replace(b"twin-", b""))
    fresh: list[str] = []
    payload = (parsed.get("data") or {}).get("placeOrder")
    if payload and payload.get("order") and not payload["replayed"]:
        order = payload["order"]
        fresh = [order["number"]]
        assert order["number"].startswith("PO-")
        assert payload["orderToken"]
        order["id"] = order["number"] = payload["orderToken"] = "<fresh>"
    return parsed, fresh


async def _compare(
    server: LiveServer, variables: Any, key: str | None, **kwargs: Any
) -> tuple[Any, list[str], list[str]]:
    fast = await _send(server, True, variables, key, **kwargs)
    slow = await _send(server, False, _mirror(variables), key, **kwargs)
    fast_parsed, fast_fresh = _normalise(fast, "EQF")
    slow_parsed, slow_fresh = _normalise(slow, "EQS")
    assert fast_parsed == slow_parsed, variables
    return fast_parsed, fast_fresh, slow_fresh


def _input(lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "idempotencyKey": extra.pop("key", None) or f"k-{uuid.uuid4()}",
        "channel": extra.pop("channel", "webstore"),
        "customer": extra.pop("customer", {"email": "Ada@Example.com ", "name": " Ada "}),
        "lines": lines,
        **extra,
    }


LINE_SETS: list[list[dict[str, Any]]] = [
    [{"sku": "EQF-READY", "quantity": 1}],
    [{"sku": "EQF-READY", "quantity": 2}, {"sku": "EQF-PRE", "quantity": 1}],
    [{"sku": "EQF-BACK", "quantity": 3}],
    [{"sku": "EQF-BACK", "quantity": 2, "acceptBackorder": False}],
    [{"sku": "EQF-PRE", "quantity": 1, "acceptPreorder": False}],
    [{"sku": "EQF-LTD", "quantity": 2}, {"sku": "EQF-READY", "quantity": 1}],
    [{"sku": "EQF-GONE", "quantity": 1}],
    [{"sku": "EQF-NOPE", "quantity": 1}],
    [{"sku": "EQF-READY", "quantity": 0}],
    [{"sku": "EQF-READY", "quantity": 1}, {"sku": "EQF-USD", "quantity": 1}],
    [{"sku": "EQF-READY", "quantity": 1}, {"sku": "EQF-READY", "quantity": 2}],
    [{"sku": "EQF-READY", "quantity": 999}],
    [],
]
ADDRESSES: list[dict[str, Any]] = [
    {},
    {"shippingAddress": None},
    {
        "shippingAddress": {
            "region": "US",
            "postalCode": "10001",
            "lines": ["1 Main St", "Apt 2"],
            "city": "NYC",
            "country": "US",
        },
        "shipTogether": True,
    },
    {"shippingAddress": {"region": "EU"}, "shipTogether": False},
    {"shippingAddress": {"region": "EU", "carrierService": "TELEPORT"}},
]


async def test_the_trusted_place_order_document_is_compiled_and_its_variant_is_not(
    catalog: LiveServer,
) -> None:
    compiled = catalog.app.state.compiled
    assert isinstance(compiled.get(PLACE), CompiledPlaceOrder)
    assert PLACE_UNCOMPILED not in compiled


def _count_outcomes(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How the compiled path ended: answered, fell back (nothing done), handed off."""
    compiled = server.app.state.compiled[PLACE]
    counts = {"answered": 0, "fallback": 0, "handoff": 0}
    execute = compiled.execute

    async def counting(*args: Any) -> Any:
        result = await execute(*args)
        kind = (
            "fallback" if result is None else "answered" if isinstance(result, dict) else "handoff"
        )
        counts[kind] += 1
        return result

    monkeypatch.setattr(compiled, "execute", counting)
    return counts


async def test_every_state_channel_key_and_input_gives_the_same_answer(
    catalog: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = _count_outcomes(catalog, monkeypatch)
    keys = {
        "ops": catalog.ops_key,
        "storefront": await catalog.key_with("storefront"),
        "marketplace": await catalog.key_with("channel:marketplace"),
    }
    compared = placed = 0
    pairs: list[tuple[str, str]] = []
    for lines, address, channel, key_name in itertools.product(
        LINE_SETS, ADDRESSES, ["webstore", "marketplace", "b2b", "nowhere"], keys
    ):
        variables = {"input": _input(lines, channel=channel, **address)}
        _, fast_fresh, slow_fresh = await _compare(catalog, variables, keys[key_name])
        pairs.extend(zip(fast_fresh, slow_fresh, strict=True))
        compared += 1
        placed += len(fast_fresh)
    assert compared == len(LINE_SETS) * len(ADDRESSES) * 4 * 3
    assert outcomes == {"answered": compared, "fallback": 0, "handoff": 0}
    assert placed > 80  # the matrix places orders, not only errors

    # What each side wrote is the same too: the coerced input reached the service unchanged.
    def row_view(rows: list[Any]) -> list[Any]:
        return [
            orjson.loads(orjson.dumps(dict(r), default=str).replace(b"EQS-", b"EQF-")) for r in rows
        ]

    for fast_number, slow_number in pairs:
        views = []
        for number in (fast_number, slow_number):
            order = await catalog.sql(
                "SELECT channel_code, customer_email, customer_name, region, postal_code, "
                "address, ship_together, tags, currency, total_minor, placed_by "
                "FROM orders WHERE number = $1",
                number,
            )
            lines = await catalog.sql(
                "SELECT l.line_no, l.sub_no, l.sku, l.quantity, l.state, l.status, l.pool_kind, "
                "l.pool_channel, l.unit_price_minor, l.payment_terms, l.shipment_group, "
                "l.queued_at, p.kind, p.amount_minor, p.expires_at, p.note "
                "FROM orders o JOIN order_lines l ON l.order_id = o.id "
                "LEFT JOIN payment_entries p ON p.line_id = l.id "
                "WHERE o.number = $1 ORDER BY l.line_no, l.sub_no, p.id",
                number,
            )
            events = await catalog.sql(
                "SELECT e.kind, e.actor, e.payload - 'number' AS after FROM orders o "
                "JOIN events e ON e.order_id = o.id WHERE o.number = $1 ORDER BY e.id",
                number,
            )
            views.append((row_view(order), row_view(lines), row_view(events)))
        assert views[0] == views[1], (fast_number, slow_number)


async def test_bad_variables_fall_back_to_the_executors_errors(
    catalog: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = _count_outcomes(catalog, monkeypatch)
    good = _input([{"sku": "EQF-READY", "quantity": 1}])
    variants: list[Any] = [
        {},
        {"input": None},
        {"input": "x"},
        {"input": {**good, "lines": {"sku": "EQF-READY", "quantity": 1}}},  # one, not a list
        {"input": {**good, "lines": [{"sku": "EQF-READY", "quantity": 1.0}]}},
        {"input": {**good, "lines": [{"sku": "EQF-READY", "quantity": "1"}]}},
        {"input": {**good, "lines": [{"sku": "EQF-READY", "quantity": 2**31}]}},
        {"input": {**good, "lines": [{"sku": "EQF-READY", "quantity": True}]}},
        {"input": {**good, "lines": [{"sku": "EQF-READY"}]}},
        {"input": {**good, "lines": [{"sku": 7, "quantity": 1}]}},
        {"input": {**good, "lines": [{"sku": "EQF-READY", "quantity": 1, "x": 1}]}},
        {
            "input": {
                **good,
                "lines": [{"sku": "EQF-READY", "quantity": 1, "acceptBackorder": None}],
            }
        },
        {"input": {**good, "lines": [None]}},
        {"input": {**good, "shipTogether": None}},
        {"input": {**good, "shipTogether": "yes"}},
        {"input": {**good, "customer": {"email": "a@b.c"}}},
        {"input": {**good, "customer": None}},
        {"input": {**good, "customer": {"email": "a@b.c", "name": "A", "vip": True}}},
        {"input": {**good, "shippingAddress": {"lines": "one line"}}},  # one, not a list
        {"input": {**good, "shippingAddress": {"lines": None}}},
        {"input": {**good, "shippingAddress": {"city": 5}}},
        {"input": {**good, "shippingAddress": []}},
        {"input": {**good, "channel": None}},
        {"input": {**good, "idempotencyKey": 12}},
        {"input": {**good, "notes": "hello"}},
        {"input": {key: value for key, value in good.items() if key != "lines"}},
    ]
    for variables in variants:
        data = variables.get("input")
        if isinstance(data, dict) and data.get("idempotencyKey") == good["idempotencyKey"]:
            variables["input"] = {**data, "idempotencyKey": f"k-{uuid.uuid4()}"}
        await _compare(catalog, variables, catalog.ops_key)
    assert outcomes == {"answered": 0, "fallback": len(variants), "handoff": 0}
    # A list of one given as a bare value is coerced by GraphQL: an order, on both sides.
    wrapped = {"input": {**good, "idempotencyKey": f"k-{uuid.uuid4()}"}}
    wrapped["input"]["lines"] = {"sku": "EQF-READY", "quantity": 1}
    parsed, fast_fresh, _ = await _compare(catalog, wrapped, catalog.ops_key)
    assert fast_fresh
    assert parsed["data"]["placeOrder"]["userErrors"] == []


async def test_idempotent_replays_answer_the_same_bytes(catalog: LiveServer) -> None:
    for lines in (
        [{"sku": "EQF-READY", "quantity": 1}],
        [{"sku": "EQF-BACK", "quantity": 4}],
        [{"sku": "EQF-GONE", "quantity": 1}],  # a stored user error
        [{"sku": "EQF-READY", "quantity": 1}, {"sku": "EQF-PRE", "quantity": 2}],
    ):
        variables = {"input": _input(lines)}
        first = await _send(catalog, True, variables, catalog.ops_key)
        again_fast = await _send(catalog, True, variables, catalog.ops_key)
        again_slow = await _send(catalog, False, variables, catalog.ops_key)
        assert again_fast == again_slow
        if b'"order":{' in first:
            assert b'"replayed":true' in again_fast
            assert b'"orderToken":null' in again_fast
        # The same key with another payload: refused alike on both paths.
        other = {"input": {**variables["input"], "customer": {"email": "x@y.z", "name": "X"}}}
        reused_fast = await _send(catalog, True, other, catalog.ops_key)
        reused_slow = await _send(catalog, False, other, catalog.ops_key)
        assert reused_fast == reused_slow
        assert b"IDEMPOTENCY_KEY_REUSED" in reused_fast
    # And a key first used through the executor replays alike through the compiled path.
    variables = {"input": _input([{"sku": "EQF-READY", "quantity": 2}])}
    await _send(catalog, False, variables, catalog.ops_key)
    assert await _send(catalog, True, variables, catalog.ops_key) == await _send(
        catalog, False, variables, catalog.ops_key
    )


async def test_concurrent_requests_with_one_key_place_one_order(catalog: LiveServer) -> None:
    variables = {"input": _input([{"sku": "EQF-READY", "quantity": 1}])}
    answers = await asyncio.gather(
        *(_send(catalog, True, variables, catalog.ops_key) for _ in range(12))
    )
    payloads = [orjson.loads(a)["data"]["placeOrder"] for a in answers]
    assert len({p["order"]["number"] for p in payloads}) == 1
    assert sorted(p["replayed"] for p in payloads) == [False] + [True] * 11


async def test_auth_errors_are_the_executors(catalog: LiveServer) -> None:
    variables = {"input": _input([{"sku": "EQF-READY", "quantity": 1}])}
    prefix = catalog.ops_key.split("_")[1]
    for key in (None, "nonsense", f"oms_{prefix}_wrong-secret", "oms_000000000000_x"):
        parsed, fresh, _ = await _compare(catalog, variables, key)
        assert parsed["data"] is None
        assert not fresh
        assert parsed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The same key in the X-API-Key header is accepted on both paths.
    variables = {"input": _input([{"sku": "EQF-READY", "quantity": 1}])}
    parsed, fresh, _ = await _compare(
        catalog, variables, None, extra_headers={"X-API-Key": catalog.ops_key}
    )
    assert fresh


async def test_a_remembered_key_that_is_revoked_or_changed_is_checked_again(
    catalog: LiveServer,
) -> None:
    key = await catalog.key_with("ops", "channel:x-revoke")
    prefix = key.split("_")[1]

    async def compare_now() -> Any:
        variables = {"input": _input([{"sku": "EQF-READY", "quantity": 1}], channel="marketplace")}
        return (await _compare(catalog, variables, key))[0]

    assert (await compare_now())["data"]["placeOrder"]["order"]  # remembered now
    await catalog.sql("UPDATE api_keys SET scopes = '{storefront}' WHERE prefix = $1", prefix)
    codes = [e["code"] for e in (await compare_now())["data"]["placeOrder"]["userErrors"]]
    assert codes == ["CHANNEL_NOT_ALLOWED"]
    await catalog.sql("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", prefix)
    assert (await compare_now())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Input errors of a remembered key whose key is gone: the key is refused first.
    other = await catalog.key_with("ops", "channel:x-gone")
    variables = {"input": _input([{"sku": "EQF-READY", "quantity": 1}])}
    await _compare(catalog, variables, other)
    await catalog.sql("DELETE FROM api_keys WHERE prefix = $1", other.split("_")[1])
    bad = {"input": _input([{"sku": "EQF-READY", "quantity": 0}])}
    parsed = (await _compare(catalog, bad, other))[0]
    assert parsed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_exception_after_the_compiled_path_started_is_answered_by_the_executor(
    catalog: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = _count_outcomes(catalog, monkeypatch)
    calls: list[str] = []

    async def broken(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2].idempotency_key)
        raise RuntimeError("database on fire")

    monkeypatch.setattr(compiled_place_order, "place_order", broken)
    monkeypatch.setattr(order_place, "place_order", broken)
    variables = {"input": _input([{"sku": "EQF-READY", "quantity": 1}])}
    parsed = (await _compare(catalog, variables, catalog.ops_key))[0]
    assert parsed["data"] is None
    assert parsed["errors"][0]["message"] == "Unexpected error."
    assert parsed["errors"][0]["path"] == ["placeOrder"]
    assert len(calls) == 2  # once per side: the executor did not place the order again
    assert outcomes == {"answered": 0, "fallback": 0, "handoff": 1}


async def test_the_compiled_answer_by_text_is_the_same_as_by_hash(catalog: LiveServer) -> None:
    variables = {"input": _input([{"sku": "EQF-GONE", "quantity": 1}])}
    first = await _send(catalog, True, variables, catalog.ops_key, by_text=True)
    assert b'"replayed":false' in first
    by_hash = await _send(catalog, True, variables, catalog.ops_key)
    by_text = await _send(catalog, True, variables, catalog.ops_key, by_text=True)
    assert by_hash == by_text  # a stored user error, replayed
    assert by_hash == first.replace(b'"replayed":false', b'"replayed":true')


async def test_compiled_placements_are_counted_as_mutations(catalog: LiveServer) -> None:
    await _send(
        catalog, True, {"input": _input([{"sku": "EQF-READY", "quantity": 1}])}, catalog.ops_key
    )
    metrics = (await catalog.client.get("/metrics")).text
    assert (
        'oms_graphql_operations_total{operation="PlaceOrder",outcome="ok",path="compiled",type="mutation"}'
        in metrics
    )


async def test_the_lines_placement_hands_back_are_the_lines_read_back(catalog: LiveServer) -> None:
    actor = Actor("tests", frozenset({"ops"}))
    for channel, lines in (
        ("webstore", (LineInput("EQF-READY", 2),)),
        ("marketplace", (LineInput("EQF-READY", 1), LineInput("EQF-USD", 1))),
        ("webstore", (LineInput("EQF-READY", 1), LineInput("EQF-READY", 3))),
        ("webstore", (LineInput("EQF-BACK", 1),)),
    ):
        command = PlaceOrderInput(f"direct-{uuid.uuid4()}", channel, "d@x.y", "D", lines)
        result = await order_service.place_order(catalog.services, actor, command)
        if result.value is None:
            continue
        async with catalog.services.read_pool.acquire() as conn:
            rows = await store.lines_by_order(conn, [result.value.order_id])
        read_back = [dict(r) for r in rows]
        if all(r["status"] == "RESERVED" for r in read_back):
            assert result.value.lines is not None
            assert [dict(r) for r in result.value.lines] == read_back
        else:
            assert result.value.lines is None  # queue positions are computed when read


def test_the_request_hash_is_the_one_stored_keys_were_made_with() -> None:
    import hashlib

    def original(data: PlaceOrderInput) -> str:
        body = asdict(data)
        body.pop("idempotency_key")
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()

    make: list[Callable[[int], PlaceOrderInput]] = [
        lambda i: PlaceOrderInput(f"k{i}", "webstore", "a@b.c", "A", (LineInput("S", i),)),
        lambda i: PlaceOrderInput(
            f"k{i}",
            "b2b",
            "é@b.c",
            "Zoë",
            (LineInput("S1", i, False, True), LineInput("S2", 1, True, False)),
            "EU",
            "1011",
            {"lines": ["a", "b"], "city": None, "country": "NL"},
            True,
        ),
        lambda i: PlaceOrderInput(f"k{i}", "pos", "x@y.z", "X", ()),
    ]
    for build in make:
        for i in range(-2, 5):
            assert build(i).request_hash() == original(build(i))
