"""A channel's webhook or till batch, as it arrives: is it signed by the channel, store it raw
(committed before anything reads it), then one attempt at once (``process.attempt``).

Duplicates. A delivery of an external order id stored before is answered from what became of
it (ACCEPTED: the same order; INVALID: the same reasons) or, while it is still open, attempts
it again under the same idempotency key: three concurrent deliveries make one order and are
all told it. The same id with other content is a conflict: the first one stands.

Nothing from a payload reaches the logs: only the channel, the message id and error types."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain.intake import Refusal, RefusalCode
from app.domain.intake.adapters import ADAPTERS
from app.domain.intake.adapters.till import split_batch
from app.domain.intake.signatures import SignatureProblem, verify
from app.domain.text import MAX_CODE, lookup_key
from app.metrics import INTAKE_LATENCY, INTAKE_MESSAGES
from app.services.container import Services
from app.services.intake import process
from app.services.intake.process import Reply, channel_config, decode, reply_from_row
from app.storage import intake as store
from app.storage.database import is_unavailable

BATCH_TYPES = {
    "application/x-ndjson": "application/x-ndjson",
    "application/jsonl": "application/x-ndjson",
    "application/json-lines": "application/x-ndjson",
    "text/csv": "text/csv",
}


class Refused(StrEnum):
    """Why a delivery was not taken in at all (nothing stored)."""

    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"  # no intake here (no secret, or not configured)
    UNAUTHENTICATED = "UNAUTHENTICATED"  # signature missing, malformed, stale or wrong
    UNSUPPORTED = "UNSUPPORTED"  # a batch in another format, or a channel without batches
    MALFORMED = "MALFORMED"  # a batch that is not text of its format
    UNAVAILABLE = "UNAVAILABLE"  # the database could not store it: send it again later
    CONFLICT = "CONFLICT"  # the external id came before with other content


@dataclass(frozen=True)
class Declined:
    reason: Refused
    message: str
    detail: str | None = None


@dataclass(frozen=True)
class BatchReply:
    batch_id: int
    receipts: list[tuple[tuple[int, ...], Reply]] = field(default_factory=list)
    bad_rows: list[tuple[int, Refusal]] = field(default_factory=list)


def _secrets(services: Services, channel: str) -> list[str] | None:
    found = services.settings.intake_secrets.get(channel)
    return [s.get_secret_value() for s in found] if found else None


async def _gate(
    services: Services, channel: str, body: bytes, signature: str | None
) -> store.ChannelIntake | Declined:
    """The channel's configuration when the body is signed by it; else why not."""
    secrets = _secrets(services, channel) if lookup_key(channel, MAX_CODE) else None
    if not secrets:
        return Declined(Refused.UNKNOWN_CHANNEL, f"No intake for channel {channel[:64]!r}.")
    problem = verify(
        signature,
        body,
        secrets,
        services.now().timestamp(),
        services.settings.intake_tolerance_seconds,
    )
    if problem is not None:
        INTAKE_MESSAGES.labels(channel, "unauthenticated").inc()
        return Declined(Refused.UNAUTHENTICATED, _SIGNATURE[problem], problem.value)
    try:
        cfg = await channel_config(services, channel)
    except Exception as exc:
        if is_unavailable(exc):
            return Declined(Refused.UNAVAILABLE, "Storage is unavailable; send it again.")
        raise
    if cfg is None or cfg.adapter not in ADAPTERS:
        return Declined(Refused.UNKNOWN_CHANNEL, f"No intake for channel {channel!r}.")
    return cfg


_SIGNATURE = {
    SignatureProblem.MISSING: "The X-OMS-Signature header is missing.",
    SignatureProblem.MALFORMED: "The X-OMS-Signature header is not t=<seconds>,v1=<hex>.",
    SignatureProblem.STALE: "The signature's timestamp is too far from now (a replay?).",
    SignatureProblem.MISMATCH: "The signature does not match the body.",
}


async def _store(
    services: Services,
    cfg: store.ChannelIntake,
    external_id: str | None,
    account: str | None,
    payload: bytes,
    now: datetime,
    batch_id: int | None = None,
) -> store.Stored:
    async with services.write() as conn:  # one INSERT: committed as it ends
        stored = await store.store(
            conn,
            channel=cfg.code,
            adapter=cfg.adapter,
            external_id=external_id,
            account=account,
            batch_id=batch_id,
            payload=payload,
            sha256=hashlib.sha256(payload).hexdigest(),
            now=now,
            lease_until=now + process.LEASE,
        )
    return stored


async def _take(
    services: Services,
    cfg: store.ChannelIntake,
    document: Any,
    payload: bytes,
    now: datetime,
    batch_id: int | None = None,
) -> Reply | Declined:
    """Store one payload and attempt it (or answer a duplicate)."""
    adapter = ADAPTERS[cfg.adapter]
    external_id = adapter.external_id(document) if document is not None else None
    account = document.get("store_id") if isinstance(document, dict) else None
    try:
        stored = await _store(
            services,
            cfg,
            external_id,
            account if isinstance(account, str) and lookup_key(account, MAX_CODE) else None,
            payload,
            now,
            batch_id,
        )
    except Exception as exc:
        if is_unavailable(exc):
            return Declined(Refused.UNAVAILABLE, "Storage is unavailable; send it again.")
        raise
    INTAKE_MESSAGES.labels(cfg.code, "received").inc()
    if not stored.created:
        INTAKE_MESSAGES.labels(cfg.code, "duplicate").inc()
        if not stored.same_payload:
            INTAKE_MESSAGES.labels(cfg.code, "conflict").inc()
            return Declined(
                Refused.CONFLICT,
                f"Order {external_id!r} was received before with other content; the first "
                "one stands.",
            )
        if stored.status in ("ACCEPTED", "INVALID", "DISCARDED"):
            async with services.read() as conn:
                row = (await store.by_ids(conn, [stored.id]))[0]
            return reply_from_row(row, duplicate=True)
    return await process.attempt(
        services, cfg, stored.id, document, now, stored.replay_no, stored.attempts
    )


async def receive_webhook(
    services: Services, channel: str, body: bytes, signature: str | None
) -> Reply | Declined:
    """One order from a channel's webhook."""
    started = services.now()
    gate = await _gate(services, channel, body, signature)
    if isinstance(gate, Declined):
        return gate
    answer = await _take(services, gate, decode(body), body, started)
    INTAKE_LATENCY.labels(gate.code).observe((services.now() - started).total_seconds())
    return answer


async def receive_batch(
    services: Services, channel: str, body: bytes, content_type: str, signature: str | None
) -> BatchReply | Declined:
    """A till's upload: every receipt stored and attempted on its own, so one bad row or
    receipt never holds back the others; each is reported with its rows' numbers."""
    gate = await _gate(services, channel, body, signature)
    if isinstance(gate, Declined):
        return gate
    kind = BATCH_TYPES.get(content_type.split(";")[0].strip().lower())
    if gate.adapter != "TILL":
        return Declined(Refused.UNSUPPORTED, "This channel takes single orders, not batches.")
    if kind is None:
        return Declined(
            Refused.UNSUPPORTED,
            "A batch is text/csv or application/x-ndjson (JSON lines).",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Declined(Refused.MALFORMED, "A batch is UTF-8 text.")
    now = services.now()
    try:
        async with services.uow() as uow:
            batch_id = await store.insert_batch(uow.conn, gate.code, kind, body, now)
            await uow.commit()
    except Exception as exc:
        if is_unavailable(exc):
            return Declined(Refused.UNAVAILABLE, "Storage is unavailable; send it again.")
        raise
    split = split_batch(text, kind, services.settings.intake_max_batch_rows)
    if isinstance(split, Refusal):
        return Declined(Refused.MALFORMED, split.message, split.field)
    receipts, bad = split
    reply = BatchReply(batch_id, bad_rows=[(b.row_number, b.refusal) for b in bad])
    async with services.uow() as uow:
        await store.count_batch_rows(
            uow.conn, batch_id, sum(len(r.row_numbers) for r in receipts) + len(bad)
        )
        await uow.commit()
    for receipt in receipts:
        answer = await _take(services, gate, receipt.document, receipt.raw.encode(), now, batch_id)
        if isinstance(answer, Declined):  # a conflict, or not stored: the till sends it again
            conflict = answer.reason is Refused.CONFLICT
            answer = Reply(
                "INVALID" if conflict else "UNAVAILABLE",
                None,
                receipt.external_id,
                refusals=(
                    Refusal(
                        None,
                        RefusalCode.DUPLICATE_CONFLICT if conflict else RefusalCode.NOT_STORED,
                        answer.message,
                    ),
                ),
            )
        reply.receipts.append((receipt.row_numbers, answer))
    return reply
