"""GraphQL over WebSocket: both protocols, authenticated from connection params."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.support import LiveServer


def _ws_url(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://") + "/graphql"


async def _recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await ws.recv()))


async def test_a_query_runs_over_graphql_transport_ws(server: LiveServer) -> None:
    async with websockets.connect(_ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(
            json.dumps({"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }"}})
        )
        message = await _recv(ws)
        assert message == {"type": "next", "id": "1", "payload": {"data": {"__typename": "Query"}}}
        assert (await _recv(ws)) == {"type": "complete", "id": "1"}


async def test_the_legacy_graphql_ws_protocol_is_offered_too(server: LiveServer) -> None:
    async with websockets.connect(_ws_url(server), subprotocols=["graphql-ws"]) as ws:
        assert ws.subprotocol == "graphql-ws"
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _recv(ws))["type"] == "connection_ack"


async def test_a_websocket_with_an_invalid_key_is_rejected_at_connection_init(
    server: LiveServer,
) -> None:
    async with websockets.connect(_ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer oms_x_y"}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


async def test_a_websocket_with_an_ops_key_may_run_admin_mutations(server: LiveServer) -> None:
    async with websockets.connect(_ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"authorization": f"Bearer {server.ops_key}"},
                }
            )
        )
        assert (await _recv(ws))["type"] == "connection_ack"
        mutation = (
            'mutation { createProduct(input: {sku: "WS-1", name: "Over WS"}) '
            "{ product { sku } userErrors { code } } }"
        )
        await ws.send(json.dumps({"type": "subscribe", "id": "m", "payload": {"query": mutation}}))
        message = await _recv(ws)
        assert message["payload"]["data"]["createProduct"]["product"] == {"sku": "WS-1"}


async def _legacy(server: LiveServer, payload: dict[str, Any]) -> Any:
    ws = await websockets.connect(_ws_url(server), subprotocols=["graphql-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert (await _recv(ws))["type"] == "connection_ack"
    return ws


async def _legacy_answer(ws: Any, operation_id: str) -> list[dict[str, Any]]:
    """The messages of one operation up to its ``complete`` or ``error`` (keep-alives left out)."""
    messages: list[dict[str, Any]] = []
    while True:
        message = await _recv(ws)
        if message["type"] == "ka":
            continue
        assert message.get("id") == operation_id, message
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


async def test_a_query_runs_over_the_legacy_graphql_ws_protocol(server: LiveServer) -> None:
    ws = await _legacy(server, {})
    async with ws:
        await ws.send(
            json.dumps({"type": "start", "id": "q", "payload": {"query": "{ __typename }"}})
        )
        assert await _legacy_answer(ws, "q") == [
            {"type": "data", "id": "q", "payload": {"data": {"__typename": "Query"}}},
            {"type": "complete", "id": "q"},
        ]


async def test_a_mutation_with_variables_runs_over_the_legacy_graphql_ws_protocol(
    server: LiveServer,
) -> None:
    ws = await _legacy(server, {"authorization": f"Bearer {server.ops_key}"})
    async with ws:
        mutation = (
            'mutation($sku: String!) { createProduct(input: {sku: $sku, name: "Legacy"}) '
            "{ product { sku } userErrors { code } } }"
        )
        start = {"query": mutation, "variables": {"sku": "WS-LEGACY"}}
        await ws.send(json.dumps({"type": "start", "id": "m", "payload": start}))
        data, complete = await _legacy_answer(ws, "m")
        assert data["payload"] == {
            "data": {"createProduct": {"product": {"sku": "WS-LEGACY"}, "userErrors": []}}
        }
        assert complete == {"type": "complete", "id": "m"}


async def test_a_refused_mutation_over_the_legacy_protocol_says_why(server: LiveServer) -> None:
    ws = await _legacy(server, {})
    async with ws:
        mutation = (
            'mutation { createProduct(input: {sku: "WS-NO", name: "No"}) { product { sku } } }'
        )
        await ws.send(json.dumps({"type": "start", "id": "a", "payload": {"query": mutation}}))
        data, _complete = await _legacy_answer(ws, "a")
        assert [e["extensions"]["code"] for e in data["payload"]["errors"]] == ["UNAUTHENTICATED"]
        # an invalid document is an ``error`` message, as for a subscription
        await ws.send(json.dumps({"type": "start", "id": "b", "payload": {"query": "{ nope }"}}))
        (error,) = await _legacy_answer(ws, "b")
        assert error["type"] == "error"
        assert "nope" in error["payload"]["message"]
