"""A PostgreSQL outage is a typed, retryable answer (HTTP 503, SERVICE_UNAVAILABLE, Retry-After)
on every path, the compiled trusted documents included, and leaves nothing half-written.

The server talks to PostgreSQL through a TCP proxy that the tests cut and restore: connecting
is refused and every open connection drops, as when the database host goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from app.services.invariants import check
from app.web.documents import TRUSTED_DIR
from tests.api.placement_helpers import PLACE, order_input
from tests.support import LiveServer, live_server

PDP = (TRUSTED_DIR / "pdp.graphql").read_text(encoding="utf-8")
PLACE_TRUSTED = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")
# one comment line more: not a trusted text, so the normal executor answers it
PDP_EXECUTOR = PDP + "# not trusted\n"


class DatabaseProxy:
    """Forwards TCP connections to the PostgreSQL behind ``url``; ``cut`` refuses new ones and
    drops the open ones, ``restore`` listens again on the same port."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self._socket_dir = query.pop("host", None)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 5432
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        user = parts.username or "postgres"
        password = f":{parts.password}" if parts.password else ""
        self._url = (parts.scheme, f"{user}{password}@127.0.0.1:{{port}}", parts.path, query)

    @property
    def url(self) -> str:
        scheme, netloc, path, query = self._url
        return urlunsplit((scheme, netloc.format(port=self.port), path, urlencode(query), ""))

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket_dir and self._socket_dir.startswith("/"):
            return await asyncio.open_unix_connection(f"{self._socket_dir}/.s.PGSQL.{self._port}")
        return await asyncio.open_connection(self._host, self._port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._upstream()
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None


@pytest.fixture(scope="module")
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    await proxy.restore()
    yield proxy
    if proxy._server is None:
        await proxy.restore()


@pytest.fixture(scope="module")
async def server(proxy: DatabaseProxy) -> AsyncIterator[LiveServer]:
    async with live_server(proxy.url) as live:
        yield live


@pytest.fixture(scope="module")
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client that opens a connection per request: a kept-alive one may be closed by the
    server (idle timeout) just as the next request goes out, which is not what is tested."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
        yield client


async def _ready_again(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not get ready again")


async def _post(
    client: httpx.AsyncClient, server: LiveServer, query: str, variables: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {server.ops_key}"},
    )


def _says_retry_later(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"], errors
    assert "Unexpected error" not in errors[0]["message"]


async def _stock(server: LiveServer, sku: str, units: int) -> None:
    result = await server.gql(
        f'mutation {{ a: createProduct(input: {{sku: "{sku}", name: "{sku}", '
        "price: {amountMinor: 1000, currency: EUR}}) { userErrors { code } } "
        f'b: setStock(input: {{sku: "{sku}", location: "main", quantity: {units}}}) '
        "{ userErrors { code } } }"
    )
    assert result.data == {"a": {"userErrors": []}, "b": {"userErrors": []}}


async def _orders_with_keys(server: LiveServer, keys: list[str]) -> dict[str, int]:
    rows = await server.sql(
        "SELECT k, (SELECT count(*) FROM orders o WHERE o.idempotency_key = k)::int AS n "
        "FROM unnest($1::text[]) AS k",
        keys,
    )
    return {r["k"]: r["n"] for r in rows}


async def test_during_an_outage_placements_and_availability_answer_503_service_unavailable(
    server: LiveServer, proxy: DatabaseProxy, client: httpx.AsyncClient
) -> None:
    await _stock(server, "OUT-1", 5)

    async def post(query: str, variables: dict[str, Any]) -> httpx.Response:
        return await _post(client, server, query, variables)

    # warm both paths (and the compiled placement's credential cache) while the database is up
    warm = order_input([{"sku": "OUT-1", "quantity": 1}])
    assert (await post(PLACE_TRUSTED, {"input": warm})).status_code == 200
    assert (await post(PDP, {"sku": "OUT-1"})).status_code == 200
    keys = [str(uuid.uuid4()), str(uuid.uuid4())]

    await proxy.cut()
    try:
        compiled = order_input([{"sku": "OUT-1", "quantity": 1}], key=keys[0])
        _says_retry_later(await post(PLACE_TRUSTED, {"input": compiled}))
        executed = order_input([{"sku": "OUT-1", "quantity": 1}], key=keys[1])
        _says_retry_later(await post(PLACE, {"input": executed}))
        _says_retry_later(await post(PDP, {"sku": "OUT-1"}))
        _says_retry_later(await post(PDP_EXECUTOR, {"sku": "OUT-1"}))
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unreachable"
        assert (await client.get("/healthz")).status_code == 200
    finally:
        await proxy.restore()
    await _ready_again(client)

    # nothing of the refused placements was written; a retry with the same key places once
    assert await _orders_with_keys(server, keys) == {keys[0]: 0, keys[1]: 0}
    for key in keys:
        again = await post(
            PLACE, {"input": order_input([{"sku": "OUT-1", "quantity": 1}], key=key)}
        )
        payload = again.json()["data"]["placeOrder"]
        assert payload["userErrors"] == []
        assert payload["replayed"] is False
    assert await _orders_with_keys(server, keys) == {keys[0]: 1, keys[1]: 1}
    assert [v for v in await check(server.services) if v.is_error] == []


async def test_placements_in_flight_when_the_database_goes_away_are_placed_once_or_refused_retryably(
    server: LiveServer, proxy: DatabaseProxy, client: httpx.AsyncClient
) -> None:
    await _stock(server, "OUT-2", 100)
    keys = [str(uuid.uuid4()) for _ in range(12)]

    async def attempt(key: str, document: str) -> httpx.Response:
        variables = {"input": order_input([{"sku": "OUT-2", "quantity": 1}], key=key)}
        return await _post(client, server, document, variables)

    inflight = [
        asyncio.create_task(attempt(key, PLACE_TRUSTED if i % 2 else PLACE))
        for i, key in enumerate(keys)
    ]
    await asyncio.sleep(0.01)
    await proxy.cut()
    try:
        answers = await asyncio.gather(*inflight)
    finally:
        await proxy.restore()
    await _ready_again(client)

    refused = []
    for key, response in zip(keys, answers, strict=True):
        if response.status_code == 503:
            _says_retry_later(response)
            refused.append(key)
        else:
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            assert body["data"]["placeOrder"]["userErrors"] == []
    # retried with the same key, each order exists exactly once and every counter adds up
    for key in refused:
        again = await attempt(key, PLACE)
        assert again.json()["data"]["placeOrder"]["userErrors"] == []
    assert set((await _orders_with_keys(server, keys)).values()) == {1}
    assert [v for v in await check(server.services) if v.is_error] == []
    rows = await server.sql(
        "SELECT ip.committed FROM inventory_pools ip JOIN products p ON p.id = ip.product_id "
        "WHERE p.sku = 'OUT-2' AND ip.kind = 'READY'"
    )
    assert rows[0]["committed"] == len(keys)
