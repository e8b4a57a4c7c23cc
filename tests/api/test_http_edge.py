"""The edge of /graphql: malformed requests get a 4xx with a GraphQL-shaped error and a stable
code, never a 500; bodies and documents have limits checked before parsing; parse, validation
and limit errors carry codes; a document with two operations needs a name; introspection has
a depth limit; anonymous callers cannot grow memory or metrics; rate limits answer 429."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.support import LiveServer, live_server

COUNT_ORDERS = "SELECT count(*) FROM orders"


async def post(server: LiveServer, content: bytes, **headers: str) -> httpx.Response:
    return await server.client.post(
        "/graphql", content=content, headers={"Content-Type": "application/json", **headers}
    )


def code_of(response: httpx.Response) -> str:
    errors = response.json()["errors"]
    assert errors, response.text
    code: str = errors[0]["extensions"]["code"]
    return code


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b'"x"',
        b"5",
        b"[]",
        b'[{"query": "{ __typename }"}]',
        b"{not json",
        b'{"query": "{ __typename }", "extensions": "x"}',
        b'{"query": "{ __typename }", "variables": [1]}',
        b'{"query": 5}',
        b'{"query": "{ __typename }", "operationName": 7}',
        b"[" * 1000 + b"]" * 1000,
        b'{"a":' * 1000 + b"1" + b"}" * 1000,
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_400_with_a_code(
    server: LiveServer, body: bytes
) -> None:
    response = await post(server, body)
    assert response.status_code == 400, response.text
    assert code_of(response) == "BAD_REQUEST"


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(
    database_url: str,
) -> None:
    async with live_server(database_url, max_body_bytes=4096) as server:
        big = json.dumps({"query": "{ __typename }", "variables": {"x": "a" * 5000}}).encode()
        response = await post(server, big)
        assert response.status_code == 413
        assert code_of(response) == "PAYLOAD_TOO_LARGE"

        async def chunks() -> Any:  # no Content-Length: counted as it streams in
            for _ in range(10):
                yield b" " * 1000

        streamed = await server.client.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert (await server.client.get("/healthz")).status_code == 200


async def test_the_document_limit_counts_comments_and_whitespace(database_url: str) -> None:
    async with live_server(database_url, max_document_bytes=1024) as server:
        padded = "# " + "x" * 2000 + "\n{ __typename }"
        response = await server.gql(padded)
        assert response.status == 400
        assert response.errors[0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"


async def test_two_operations_without_an_operation_name_run_neither(server: LiveServer) -> None:
    before = (await server.sql(COUNT_ORDERS))[0][0]
    document = """
      mutation Place { placeOrder(input: {idempotencyKey: "two-ops", channel: "webstore",
        customer: {email: "t@example.com", name: "T"}, lines: [{sku: "NOPE", quantity: 1}]})
        { order { id } } }
      query Read { __typename }
    """
    response = await server.gql(document)
    assert response.errors[0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert response.body.get("data") is None
    assert (await server.sql(COUNT_ORDERS))[0][0] == before


@pytest.mark.parametrize(
    ("document", "variables", "code"),
    [
        ("{ __typename ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ " + " ".join(f"a{i}: __typename" for i in range(16)) + " }",
            None,
            "TOO_MANY_ALIASES",
        ),
        (
            "query($sku: String!) { product(sku: $sku) { sku } }",
            {"sku": 5},
            "BAD_USER_INPUT",
        ),
        ("{ " + "__typename " * 2100 + "}", None, "TOO_MANY_TOKENS"),
    ],
)
async def test_parse_validation_and_limit_errors_carry_a_stable_code(
    server: LiveServer, document: str, variables: dict[str, Any] | None, code: str
) -> None:
    response = await server.gql(document, variables)
    assert response.errors, response.body
    assert {e["extensions"]["code"] for e in response.errors} == {code}, response.errors


async def test_deep_selections_are_refused_with_a_code(server: LiveServer) -> None:
    deep = "{ orders { nodes { " + "lines { order { " * 8 + "number" + " } }" * 8 + " } } }"
    response = await server.gql(deep)
    assert response.errors[0]["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_introspection_has_a_depth_limit_too_but_graphiqls_query_passes(
    server: LiveServer,
) -> None:
    from graphql import get_introspection_query

    assert not (await server.gql(get_introspection_query(descriptions=True))).errors
    nested = "{ __schema { types { " + "fields { type { " * 10 + "name" + " } }" * 10 + " } } }"
    response = await server.gql(nested)
    assert response.errors[0]["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_metrics_label_only_known_operations(server: LiveServer) -> None:
    for i in range(30):
        await server.gql(f"query Junk{i} {{ __typename }}", anonymous=True)
    await server.gql("query productAvailability { __typename }", anonymous=True)
    text = (await server.client.get("/metrics")).text
    assert "Junk" not in text
    assert 'operation="other"' in text


async def test_anonymous_persisted_query_registrations_cannot_grow_memory_without_bound(
    database_url: str,
) -> None:
    import hashlib

    async with live_server(database_url, document_cache_bytes=65_536) as server:
        store = server.app.state.documents
        for i in range(100):
            text = "{ __typename }" + f"# {i}" + " " * 2000
            digest = hashlib.sha256(text.encode()).hexdigest()
            body = {
                "query": text,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
            }
            response = await server.client.post("/graphql", json=body)
            assert response.status_code == 200
        assert store.registered_bytes <= 65_536


async def test_a_caller_over_its_rate_is_told_when_to_come_back(database_url: str) -> None:
    async with live_server(
        database_url, rate_limit_anonymous="5/minute", rate_limit_key="8/minute"
    ) as server:
        answers = [await server.gql("{ __typename }", anonymous=True) for _ in range(6)]
        assert [a.status for a in answers] == [200] * 5 + [429]
        limited = answers[-1]
        assert limited.errors[0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) >= 1
        # a key has its own budget, not the address's
        keyed = await asyncio.gather(*(server.gql("{ __typename }") for _ in range(8)))
        assert all(a.status == 200 for a in keyed)
        assert (await server.gql("{ __typename }")).status == 429
