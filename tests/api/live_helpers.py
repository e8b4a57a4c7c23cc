"""A small graphql-transport-ws client for the live subscription tests (no tests here)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

from tests.support import LiveServer


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: dict[str, list[dict[str, Any]]] = {}  # messages of other subscriptions

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        sid = uuid.uuid4().hex[:8]
        message = {"type": "subscribe", "id": sid, "payload": {"query": query}}
        if variables:
            message["payload"]["variables"] = variables
        await self.ws.send(json.dumps(message))
        return sid

    async def next(self, sid: str, seconds: float = 5.0) -> dict[str, Any]:
        """The next ``next`` payload of ``sid`` (pings answered, other ids kept for later)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            if self.pending.get(sid):
                message = self.pending[sid].pop(0)
            else:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise TimeoutError(f"nothing for subscription {sid}")
                message = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") != sid:
                self.pending.setdefault(message.get("id") or "", []).append(message)
                continue
            if message["type"] == "error":
                raise AssertionError(message)
            if message["type"] == "complete":
                raise AssertionError(f"subscription {sid} completed")
            payload: dict[str, Any] = message["payload"]
            return payload

    async def closed_code(self, seconds: float = 5.0) -> int | None:
        """The close code the server sends next, reading past any frames before it."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), seconds)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    async def silent(self, sid: str, seconds: float = 0.6) -> bool:
        """True when ``sid`` gets nothing for ``seconds``."""
        try:
            await self.next(sid, seconds=seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def connect(base_url: str, key: str | None = None, **params: Any) -> AsyncIterator[Socket]:
    payload: dict[str, Any] = dict(params)
    if key:
        payload["authorization"] = f"Bearer {key}"
    async with websockets.connect(ws_url(base_url), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        yield Socket(ws)


async def product(server: LiveServer, sku: str, stock: int, *extra: str) -> None:
    result = await server.gql(
        """mutation($sku: String!, $stock: Int!) {
             createProduct(input: {sku: $sku, name: "Live", price: {amountMinor: 1000,
                           currency: EUR}}) { userErrors { code } }
             setStock(input: {sku: $sku, location: "main", quantity: $stock})
               { userErrors { code } }
           }""",
        {"sku": sku, "stock": stock},
    )
    assert result.data["createProduct"]["userErrors"] == []
    for mutation in extra:
        done = await server.gql(mutation)
        assert not done.errors, done.errors


async def place(
    server: LiveServer, sku: str, quantity: int = 1, *, key: str | None = None, **extra: Any
) -> dict[str, Any]:
    result = await server.gql(
        """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
             order { id number lines { id } } orderToken userErrors { code message } } }""",
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": extra.pop("channel", "webstore"),
                "customer": {"email": "live@example.com", "name": "L"},
                "shippingAddress": {"region": "EU"},
                "lines": [{"sku": sku, "quantity": quantity}],
                **extra,
            }
        },
        key=key,
    )
    payload: dict[str, Any] = result.data["placeOrder"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload
