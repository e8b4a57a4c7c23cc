"""The walking skeleton: health, readiness, metrics, GraphQL over HTTP, error hygiene."""

from __future__ import annotations

import json

from tests.support import LiveServer


async def test_healthz_says_the_process_is_up(server: LiveServer) -> None:
    response = await server.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_ready_when_the_database_is_reachable_and_migrated(
    server: LiveServer,
) -> None:
    response = await server.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "at head"},
    }


async def test_readyz_says_not_ready_when_migrations_are_behind(server: LiveServer) -> None:
    await server.sql("UPDATE alembic_version SET version_num = 'older'")
    try:
        response = await server.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["migrations"] == "behind head"
    finally:
        rows = await server.sql("SELECT version_num FROM alembic_version")
        assert rows
        from app.storage.migrate import head_revisions

        (head,) = head_revisions()
        await server.sql("UPDATE alembic_version SET version_num = $1", head)


async def test_every_response_carries_a_request_id_and_echoes_the_callers(
    server: LiveServer,
) -> None:
    generated = await server.client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await server.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


async def test_a_graphql_query_for_products_works_over_http(server: LiveServer) -> None:
    created = await server.gql(
        """mutation { createProduct(input: {sku: "SKEL-1", name: "Skeleton product"}) {
             product { sku name } userErrors { code } } }"""
    )
    assert created.data["createProduct"]["userErrors"] == []
    result = await server.gql(
        "query Products { products(first: 10) { edges { node { sku name } } } }",
        anonymous=True,
    )
    skus = [e["node"]["sku"] for e in result.data["products"]["edges"]]
    assert "SKEL-1" in skus


async def test_metrics_count_graphql_operations_by_known_name_and_show_pool_usage(
    server: LiveServer,
) -> None:
    # a root field's name is a known operation name; a made-up one is counted as "other"
    await server.gql("query products { products(first: 1) { edges { cursor } } }")
    await server.gql("query MetricsProbe { products(first: 1) { edges { cursor } } }")
    text = (await server.client.get("/metrics")).text
    assert (
        'oms_graphql_operations_total{operation="products",outcome="ok",path="executor",type="query"}'
        in text
    )
    assert (
        'oms_graphql_operations_total{operation="other",outcome="ok",path="executor",type="query"}'
        in text
    )
    assert "MetricsProbe" not in text
    assert "oms_graphql_operation_duration_seconds_bucket" in text
    assert "oms_db_pool_checked_out" in text
    assert 'oms_http_requests_total{method="POST",route="/graphql",status="200"}' in text


async def test_queries_over_get_are_refused(server: LiveServer) -> None:
    response = await server.client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code in (400, 405)


async def test_internal_errors_are_masked_and_never_leak_a_stack_trace(
    server: LiveServer,
) -> None:
    result = await server.gql(
        'query { products(first: 5, after: "bm90LWEtY3Vyc29y") { edges { cursor } } }'
    )
    # A bad cursor is a public error: its message is shown as is.
    assert result.errors[0]["message"] == "Invalid cursor."
    body = json.dumps(result.body)
    assert "Traceback" not in body
    assert "File " not in body


async def test_documents_with_too_many_aliases_are_rejected(server: LiveServer) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(16))
    result = await server.gql("{ " + aliases + " }")
    assert result.errors
    assert "aliases" in result.errors[0]["message"]


async def test_introspection_works_when_enabled(server: LiveServer) -> None:
    result = await server.gql("{ __schema { queryType { name } } }")
    assert result.data["__schema"]["queryType"]["name"] == "Query"
