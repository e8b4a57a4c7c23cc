"""API keys: created once (the secret is shown once), stored as a SHA-256, looked up by prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import text

from app.services.container import Services
from app.services.results import Actor

KNOWN_SCOPES = ("ops", "storefront")
CHANNEL_SCOPE_PREFIX = "channel:"


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str
    scopes: tuple[str, ...]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def valid_scope(scope: str) -> bool:
    if scope in KNOWN_SCOPES:
        return True
    return scope.startswith(CHANNEL_SCOPE_PREFIX) and len(scope) > len(CHANNEL_SCOPE_PREFIX)


async def create_api_key(services: Services, name: str, scopes: list[str]) -> NewApiKey:
    bad = [s for s in scopes if not valid_scope(s)]
    if bad or not scopes:
        raise ValueError(f"unknown scopes: {bad or scopes}")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with services.uow() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO api_keys (prefix, secret_hash, name, scopes) "
                "VALUES (:prefix, :hash, :name, :scopes)"
            ),
            {"prefix": prefix, "hash": _hash(secret), "name": name, "scopes": scopes},
        )
        await uow.commit()
    return NewApiKey(key=f"oms_{prefix}_{secret}", prefix=prefix, scopes=tuple(scopes))


async def authenticate(services: Services, key: str) -> Actor | None:
    """The actor behind ``key``, or None when the key is malformed, unknown or revoked."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "oms":
        return None
    _, prefix, secret = parts
    async with services.read_pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT name, secret_hash, scopes FROM api_keys "
            "WHERE prefix = $1 AND revoked_at IS NULL",
            prefix,
        )
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    return Actor(f"key:{prefix}:{row['name']}", frozenset(row["scopes"]))
