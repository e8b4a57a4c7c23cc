"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"`` with the channel's secret,
sent as ``X-OMS-Signature: t=<unix seconds>,v1=<hex digest>`` (several ``v1=`` allowed, for a
sender mid-rotation). Every listed secret of the channel is tried, so a rotation runs with two
valid at once; a timestamp outside the tolerance is refused, so a captured request cannot be
replayed later."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

HEADER = "x-oms-signature"


class SignatureProblem(StrEnum):
    MISSING = "MISSING"
    MALFORMED = "MALFORMED"
    STALE = "STALE"
    MISMATCH = "MISMATCH"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a sender computes (used by tests, fixtures and the benchmark)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _parse(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and len(value) == 64:
            digests.append(value.lower())
    if timestamp is None or not digests:
        return None
    return timestamp, digests


def verify(
    header: str | None, body: bytes, secrets: Sequence[str], now: float, tolerance: int
) -> SignatureProblem | None:
    """None when ``body`` was signed by one of ``secrets`` within ``tolerance`` seconds of
    ``now``; else why not. Digests are compared in constant time."""
    if not header:
        return SignatureProblem.MISSING
    parsed = _parse(header[:1024])
    if parsed is None:
        return SignatureProblem.MALFORMED
    timestamp, digests = parsed
    if abs(now - timestamp) > tolerance:
        return SignatureProblem.STALE
    signed = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, d) for d in digests):
            return None
    return SignatureProblem.MISMATCH
