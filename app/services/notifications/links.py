"""Signed links in messages: accept or cancel a delay, switch reminders off, confirm a "notify
me" sign-up. Signed and time-stamped with itsdangerous under the database's own key
(``OMS_SECRET_KEY`` overrides it); the single-use ones carry an id that is recorded when used.
Time is the services' clock, so links expire in tests as they would in production."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.services.container import Services
from app.storage import notifications as store


class Purpose(StrEnum):
    DELAY = "delay"  # single use: accept or cancel one line's delay
    UNSUBSCRIBE = "unsubscribe"  # reminders off for one address (may be used again)
    ALERT = "alert"  # single use: confirm one availability alert


SINGLE_USE = frozenset({Purpose.DELAY, Purpose.ALERT})
UNSUBSCRIBE_DAYS = 365


def _signer(clock: Callable[[], datetime]) -> type[TimestampSigner]:
    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockSigner


async def _serializer(services: Services, purpose: Purpose) -> URLSafeTimedSerializer:
    configured = services.settings.secret_key
    if configured is not None:
        key = configured.get_secret_value()
    else:
        cached = services.cache.get("link-signing-key")
        if isinstance(cached, str):
            key = cached
        else:
            async with services.uow() as uow:
                key = await store.signing_key(uow.conn)
                await uow.commit()
            services.cache.put("link-signing-key", key, 3600)
    return URLSafeTimedSerializer(key, salt=f"oms-{purpose.value}", signer=_signer(services.clock))


async def sign(services: Services, purpose: Purpose, data: dict[str, Any]) -> str:
    body = dict(data)
    if purpose in SINGLE_USE:
        body["j"] = secrets.token_urlsafe(12)
    return str((await _serializer(services, purpose)).dumps(body))


@dataclass(frozen=True)
class Opened:
    data: dict[str, Any] | None
    problem: str | None  # EXPIRED, INVALID


async def read(services: Services, purpose: Purpose, token: str, max_age_days: float) -> Opened:
    """The link's data, or why not (a link that is not ours, was altered, or expired)."""
    if not token or len(token) > 2000:
        return Opened(None, "INVALID")
    serializer = await _serializer(services, purpose)
    try:
        data = serializer.loads(token, max_age=int(max_age_days * 86400))
    except SignatureExpired:
        return Opened(None, "EXPIRED")
    except BadSignature:
        return Opened(None, "INVALID")
    if not isinstance(data, dict):
        return Opened(None, "INVALID")
    return Opened(data, None)


def url(services: Services, path: str, **params: str) -> str:
    base = services.settings.link_base_url.rstrip("/")
    return f"{base}/{path.lstrip('/')}?{urlencode(params)}"
