"""API keys: created once (the secret is shown once), stored as a SHA-256, looked up by prefix,
optionally expiring, listed and revoked by prefix; reading a key from a request; and the cache
of recent authentications the compiled placement path uses (re-checked inside the placement's
own transaction, and never kept past the key's expiry)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from app.services.container import Services
from app.services.results import Actor
from app.storage import auth as store

KNOWN_SCOPES = ("ops", "storefront")
CHANNEL_SCOPE_PREFIX = "channel:"
KEY_PREFIX = "oms"
_PREFIX_SHAPE = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ApiKeyInfo:
    """What is known of a key besides its secret: enough to tell which one to revoke."""

    prefix: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class Revocation(StrEnum):
    REVOKED = "revoked"
    ALREADY_REVOKED = "already revoked"
    UNKNOWN = "unknown"


class KeyActor(Actor):
    """The caller behind an API key, and when that key stops working (None: never)."""

    def __init__(
        self, name: str, scopes: frozenset[str], prefix: str, expires_at: datetime | None
    ) -> None:
        super().__init__(name, scopes)
        self.prefix = prefix
        self.expires_at = expires_at


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


def key_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key (what logs may show; never the secret), else
    None: a caller's made-up text never reaches a log as a prefix."""
    parts = split_key(key)
    if parts is None or not _PREFIX_SHAPE.fullmatch(parts[0]):
        return None
    return parts[0]


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


async def create_api_key(
    services: Services, name: str, scopes: list[str], expires_at: datetime | None = None
) -> NewApiKey:
    """A new key with these scopes; it stops working at ``expires_at`` (None: never)."""
    bad = [s for s in scopes if not valid_scope(s)]
    if bad or not scopes:
        raise ValueError(f"unknown scopes: {bad or scopes}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("the expiry needs a time zone")
        # keys expire by the real clock (the database's now()), not the business clock
        if expires_at <= datetime.now(UTC):
            raise ValueError(f"the expiry {expires_at.isoformat()} is not in the future")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with services.uow() as uow:
        await store.insert_api_key(uow.conn, prefix, _hash(secret), name, scopes, expires_at)
        await uow.commit()
    return NewApiKey(
        key=f"{KEY_PREFIX}_{prefix}_{secret}",
        prefix=prefix,
        scopes=tuple(scopes),
        expires_at=expires_at,
    )


async def list_api_keys(services: Services) -> list[ApiKeyInfo]:
    async with services.read() as conn:
        rows = await store.list_api_keys(conn)
    return [
        ApiKeyInfo(
            prefix=r["prefix"],
            name=r["name"],
            scopes=tuple(r["scopes"]),
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            revoked_at=r["revoked_at"],
        )
        for r in rows
    ]


async def revoke_api_key(services: Services, prefix_or_key: str) -> Revocation:
    """Revoke a key, named by its prefix (or the whole key). Every request after the commit
    is refused: requests authenticate afresh, and the cached credentials of the compiled
    placement are checked against the key row inside the placement's own transaction."""
    parts = split_key(prefix_or_key)
    prefix = parts[0] if parts is not None else prefix_or_key
    async with services.uow() as uow:
        row = await store.revoke_api_key(uow.conn, prefix)
        await uow.commit()
    if row is None:
        return Revocation.UNKNOWN
    return Revocation.REVOKED if row["revoked_now"] else Revocation.ALREADY_REVOKED


async def authenticate(services: Services, key: str) -> KeyActor | None:
    """The actor behind ``key``, or None when the key is malformed, unknown, revoked or
    expired."""
    parts = split_key(key)
    if parts is None:
        return None
    prefix, secret = parts
    async with services.read() as conn:
        row = await store.live_api_key(conn, prefix)
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    actor = _actor(prefix, row["name"], row["scopes"])
    return KeyActor(actor.name, actor.scopes, prefix, row["expires_at"])


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
    so a revoked or changed key is refused exactly as before. Bounded; entries live
    ``seconds`` (60), and never past the key's own expiry, so an expired key is refused at
    once too."""

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
        lifetime = self.seconds
        if isinstance(actor, KeyActor) and actor.expires_at is not None:
            lifetime = min(lifetime, (actor.expires_at - datetime.now(UTC)).total_seconds())
            if lifetime <= 0:
                return
        if len(self._entries) >= self.size:
            self._entries.clear()
        credential = CachedCredential(parts[0], _hash(parts[1]), actor)
        self._entries[key] = (time.monotonic() + lifetime, credential)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)
