"""Fuzzing the edge: documents generated from the schema (hypothesis-graphql), sent as ops and
as an anonymous caller, and malformed HTTP payloads. None may answer a 500, an "Unexpected
error.", an error without a code or a stack trace; a rejected mutation changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from tests.support import LiveServer

SDL = Path(__file__).resolve().parents[2] / "graphql_schema" / "schema.graphql"
SCHEMA = build_schema(SDL.read_text(encoding="utf-8"))

SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "Date": st.dates().map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat() + "Z")),
    "Long": st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int),
    "JSON": st.one_of(st.text(max_size=20).map(nodes.String), st.integers().map(nodes.Int)),
}

SNAPSHOT = """
SELECT (SELECT count(*) FROM orders) AS orders,
       (SELECT count(*) FROM order_lines) AS lines,
       (SELECT coalesce(sum(on_hand), 0) FROM stock_levels) AS on_hand,
       (SELECT coalesce(sum(committed), 0) FROM inventory_pools) AS committed,
       (SELECT count(*) FROM payment_entries) AS payments,
       (SELECT count(*) FROM products) AS products
"""

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_answer(status: int, text: str) -> dict[str, Any]:
    assert status < 500, text
    assert "Traceback" not in text, text
    assert 'File "' not in text, text
    body: dict[str, Any] = orjson.loads(text)
    for error in body.get("errors") or []:
        assert error.get("message") != "Unexpected error.", body
        assert (error.get("extensions") or {}).get("code"), body
    return body


def rejected(body: dict[str, Any]) -> bool:
    """The mutation was refused: a top-level error, or userErrors in its payload."""
    if body.get("errors"):
        return True
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict) and payload.get("userErrors"):
            return True
    return False


async def send(server: LiveServer, document: str, anonymous: bool) -> dict[str, Any]:
    headers = {} if anonymous else {"Authorization": f"Bearer {server.ops_key}"}
    response = await server.client.post("/graphql", json={"query": document}, headers=headers)
    return check_answer(response.status_code, response.text)


@FUZZ
@given(document=queries(SCHEMA, custom_scalars=SCALARS), anonymous=st.booleans())
async def test_generated_queries_answer_with_codes_never_a_500(
    server: LiveServer, document: str, anonymous: bool
) -> None:
    await send(server, document, anonymous)


@FUZZ
@given(document=mutations(SCHEMA, custom_scalars=SCALARS))
async def test_generated_mutations_that_are_refused_change_nothing(
    server: LiveServer, document: str
) -> None:
    before = dict((await server.sql(SNAPSHOT))[0])
    body = await send(server, document, anonymous=False)
    if rejected(body) and not any(
        isinstance(p, dict) and not p.get("userErrors") for p in (body.get("data") or {}).values()
    ):
        assert dict((await server.sql(SNAPSHOT))[0]) == before, (document, body)


def _dumps(value: Any) -> bytes:
    # the standard library writes any integer, and lone surrogates as \ud800 escapes
    return json.dumps(value).encode()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(_dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "query": st.one_of(st.text(max_size=60), JSON_VALUES),
            "variables": JSON_VALUES,
            "operationName": JSON_VALUES,
            "extensions": JSON_VALUES,
        },
    ).map(_dumps),
)


@FUZZ
@given(payload=PAYLOADS)
async def test_malformed_payloads_get_a_4xx_with_a_code(server: LiveServer, payload: bytes) -> None:
    response = await server.client.post(
        "/graphql", content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, (payload, response.text)
    if response.headers.get("content-type", "").startswith("application/json"):
        check_answer(response.status_code, response.text)
