"""API keys expire and are revoked: a key past its expiry or revoked is refused by the next
request, also on the compiled placement path that caches authentications."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services.auth import (
    Revocation,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from app.web.documents import TRUSTED_DIR
from tests.api.placement_helpers import product
from tests.support import LiveServer

PLACE = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")
SAFETY = 'mutation { setSafetyStock(input: {sku: "KEY-OPS", quantity: 1}) { userErrors { code } } }'


async def _place(server: LiveServer, key: str, sku: str) -> dict[str, Any]:
    """The trusted placeOrder document, by its text: the compiled path answers it."""
    variables = {
        "input": {
            "idempotencyKey": str(uuid.uuid4()),
            "channel": "webstore",
            "customer": {"email": "key@example.com", "name": "Key"},
            "lines": [{"sku": sku, "quantity": 1}],
        }
    }
    body = {"query": PLACE, "operationName": "PlaceOrder", "variables": variables}
    response = await server.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    return dict(response.json())


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_a_key_past_its_expiry_is_refused(server: LiveServer) -> None:
    await product(server, "KEY-OPS")
    key = await create_api_key(
        server.services, "expiring", ["ops"], expires_at=datetime.now(UTC) + timedelta(days=30)
    )
    assert key.expires_at is not None
    assert _codes((await server.gql(SAFETY, key=key.key)).body) == []
    await server.sql(
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE prefix = $1",
        key.prefix,
    )
    refused = await server.gql(SAFETY, key=key.key)
    assert _codes(refused.body) == ["UNAUTHENTICATED"]


async def test_a_key_cannot_be_made_to_expire_in_the_past(server: LiveServer) -> None:
    with pytest.raises(ValueError, match="not in the future"):
        await create_api_key(
            server.services, "late", ["ops"], expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )


async def test_the_compiled_placement_refuses_a_cached_key_once_it_has_expired(
    server: LiveServer,
) -> None:
    await product(
        server, "KEY-PLACE", 'setStock(input: {sku: "KEY-PLACE", location: "main", quantity: 9})'
    )
    # the compiled path remembers an authentication for 60 s; this key expires sooner
    key = await create_api_key(
        server.services,
        "short",
        ["storefront"],
        expires_at=datetime.now(UTC) + timedelta(seconds=2),
    )
    first = await _place(server, key.key, "KEY-PLACE")
    assert first["data"]["placeOrder"]["userErrors"] == [], first
    await asyncio.sleep(2.2)
    late = await _place(server, key.key, "KEY-PLACE")
    assert _codes(late) == ["UNAUTHENTICATED"], late
    rows = await server.sql(
        "SELECT count(*) AS n FROM orders WHERE customer_email = 'key@example.com'"
    )
    assert rows[0]["n"] == 1


async def test_a_revoked_key_is_refused_by_the_next_placement_on_the_compiled_path(
    server: LiveServer,
) -> None:
    await product(
        server, "KEY-REV", 'setStock(input: {sku: "KEY-REV", location: "main", quantity: 9})'
    )
    key = await create_api_key(server.services, "revoked", ["storefront"])
    assert _codes(await _place(server, key.key, "KEY-REV")) == []
    assert await revoke_api_key(server.services, key.prefix) is Revocation.REVOKED
    assert _codes(await _place(server, key.key, "KEY-REV")) == ["UNAUTHENTICATED"]


async def test_revoking_twice_or_an_unknown_prefix_says_so_and_keeps_the_first_time(
    server: LiveServer,
) -> None:
    key = await create_api_key(server.services, "twice", ["ops"])
    assert await revoke_api_key(server.services, key.key) is Revocation.REVOKED  # whole key
    first = {k.prefix: k.revoked_at for k in await list_api_keys(server.services)}[key.prefix]
    assert await revoke_api_key(server.services, key.prefix) is Revocation.ALREADY_REVOKED
    again = {k.prefix: k.revoked_at for k in await list_api_keys(server.services)}[key.prefix]
    assert first is not None
    assert again == first
    assert await revoke_api_key(server.services, "0123456789ab") is Revocation.UNKNOWN


async def test_the_key_list_shows_what_each_key_is_and_never_its_secret(
    server: LiveServer,
) -> None:
    key = await create_api_key(
        server.services,
        "listed",
        ["channel:webstore", "storefront"],
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    listed = {k.prefix: k for k in await list_api_keys(server.services)}[key.prefix]
    assert (listed.name, listed.scopes) == ("listed", ("channel:webstore", "storefront"))
    assert listed.expires_at == key.expires_at
    assert listed.revoked_at is None
    assert listed.status(datetime.now(UTC)) == "active"
    assert listed.status(datetime.now(UTC) + timedelta(days=2)) == "expired"
    secret = key.key.split("_", 2)[2]
    assert secret not in repr(listed)
