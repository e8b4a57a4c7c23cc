"""API keys: created once (the secret is shown once), stored as a SHA-256, looked up by prefix;
reading a key from a request; and the cache of recent authentications the compiled placement
path uses (re-checked inside the placement's own transaction)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from app.services.container import Services
from app.services.results import Actor
from app.storage import auth as store

KNOWN_SCOPES = ("ops", "storefront")
CHANNEL_SCOPE_PREFIX = "channel:"
KEY_PREFIX = "oms"


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


def split_key(key: str) -> tuple[str, str] | None:
    """``oms_<prefix>_<secret>`` as ``(prefix, secret)``; None when malformed."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    return parts[1], parts[2]


def key_from_headers(headers: Mapping[str, str] | None) -> str | None:
    """The API key a request carries: ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    if headers is None:
        return None
    value = headers.get("authorization")
    if value and value.lower().startswith("bearer "):
        return str(value[7:].strip())
    key = headers.get("x-api-key")
    return str(key) if key else None


def _actor(prefix: str, name: str, scopes: list[str]) -> Actor:
    return Actor(f"key:{prefix}:{name}", frozenset(scopes))


async def create_api_key(services: Services, name: str, scopes: list[str]) -> NewApiKey:
    bad = [s for s in scopes if not valid_scope(s)]
    if bad or not scopes:
        raise ValueError(f"unknown scopes: {bad or scopes}")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with services.uow() as uow:
        await store.insert_api_key(uow.conn, prefix, _hash(secret), name, scopes)
        await uow.commit()
    return NewApiKey(key=f"{KEY_PREFIX}_{prefix}_{secret}", prefix=prefix, scopes=tuple(scopes))


async def authenticate(services: Services, key: str) -> Actor | None:
    """The actor behind ``key``, or None when the key is malformed, unknown or revoked."""
    parts = split_key(key)
    if parts is None:
        return None
    prefix, secret = parts
    async with services.read() as conn:
        row = await store.live_api_key(conn, prefix)
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    return _actor(prefix, row["name"], row["scopes"])


@dataclass(frozen=True)
class CachedCredential:
    """An API key authenticated earlier and remembered (the compiled placeOrder path):
    placement checks, in its first statement, that the key row is still there, unrevoked,
    with the same secret, name and scopes (the actor ``authenticate`` would make of it now),
    and raises ``CredentialChanged`` before anything else otherwise."""

    prefix: str
    secret_hash: str
    actor: Actor

    def still_valid(self, row: tuple[str, str, list[str]] | None) -> bool:
        if row is None:
            return False
        name, secret_hash, scopes = row
        now = _actor(self.prefix, name, scopes)
        return (
            hmac.compare_digest(secret_hash, self.secret_hash)
            and self.actor.name == now.name
            and self.actor.scopes == now.scopes
        )


class CredentialChanged(Exception):
    """The cached credential no longer holds: nothing was done; authenticate afresh."""


class CredentialCache:
    """API keys authenticated recently, so that a placement does not read the key first: the
    placement's first statement reads the key row again and checks it (``CachedCredential``),
    so a revoked or changed key is refused exactly as before. Bounded; entries expire."""

    def __init__(self, seconds: float = 60.0, size: int = 1000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, tuple[float, CachedCredential]] = {}

    def get(self, key: str) -> CachedCredential | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, actor: Actor) -> None:
        parts = split_key(key)
        if parts is None:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        credential = CachedCredential(parts[0], _hash(parts[1]), actor)
        self._entries[key] = (time.monotonic() + self.seconds, credential)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)
