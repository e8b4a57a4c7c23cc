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
