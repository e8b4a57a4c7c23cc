"""What ops do with the intake: configure a channel (adapter, rules, accounts' rules, SKU
map), see the failed payloads ranked by impact, try them again (one, or all matching a
filter, once the cause is fixed), discard one with a reason, and watch each channel's
health. Every change is recorded in the event ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.events import Event, EventKind, Subject
from app.domain.intake.adapters import ADAPTERS
from app.domain.intake.rules import rule_problems
from app.domain.text import MAX_CODE, lookup_key, text_problem
from app.services import policy
from app.services.container import Services
from app.services.error_codes import IntakeErrorCode as E
from app.services.intake.process import retry_one
from app.services.results import Actor, Result, ServiceError
from app.storage import intake as store
from app.storage import ledger

REPLAY_LIMIT = 1000
MAX_MAPPINGS = 1000
RETRYABLE = ("INVALID", "DEAD", "RETRYING")


def _not_found(what: str = "No such intake message.") -> Result[Any]:
    return Result.fail(E.NOT_FOUND, what, "input", "id")


# ---------------------------------------------------------------- reads


async def failures(
    services: Services,
    channel: str | None,
    statuses: Sequence[str] | None,
    by_impact: bool,
    after: tuple[float, int] | None,
    limit: int,
) -> list[Any]:
    if channel is not None and not lookup_key(channel, MAX_CODE):
        return []
    async with services.read() as conn:
        return await store.failures(conn, channel, statuses, by_impact, after, limit)


async def count_failures(
    services: Services, channel: str | None, statuses: Sequence[str] | None
) -> int:
    if channel is not None and not lookup_key(channel, MAX_CODE):
        return 0
    async with services.read() as conn:
        return await store.count_failures(conn, channel, statuses)


async def by_ids(services: Services, ids: Sequence[int]) -> dict[int, Any]:
    async with services.read() as conn:
        return {r["id"]: r for r in await store.by_ids(conn, ids)}


async def health(services: Services, hours: int) -> list[Any]:
    async with services.read() as conn:
        return await store.health(conn, services.now() - timedelta(hours=hours))


async def channels(services: Services) -> list[Any]:
    async with services.read() as conn:
        return await store.channel_configs(conn)


# ---------------------------------------------------------------- failed payloads


@dataclass(frozen=True)
class ReplayFilter:
    channel: str | None = None
    statuses: tuple[str, ...] = ("DEAD",)
    error_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _events(rows: Sequence[Any], kind: EventKind, actor: Actor, **extra: Any) -> list[Event]:
    return [
        Event(
            kind,
            Subject.INTAKE,
            str(row["id"]),
            actor.name,
            {
                "channel": row["channel_code"],
                "externalId": row["external_id"],
                "status": row["status"],
                **extra,
            },
            order_id=row["order_id"],
        )
        for row in rows
    ]


async def retry(services: Services, actor: Actor, message_id: int) -> Result[Any]:
    """Try a failed (INVALID, DEAD) or waiting (RETRYING) payload again now, with a fresh
    count of attempts; the outcome is that attempt's."""
    if not policy.is_ops(actor):
        return _not_found()
    async with services.uow() as uow:
        found = await store.by_ids(uow.conn, [message_id])
        if not found:
            return _not_found()
        if found[0]["status"] not in RETRYABLE:
            return Result.fail(
                E.NOT_RETRYABLE,
                f"Only INVALID, DEAD or RETRYING payloads are tried again (this one is "
                f"{found[0]['status']}).",
                "input",
                "id",
            )
        if not found[0]["has_payload"]:
            return Result.fail(
                E.PAYLOAD_PURGED,
                "The payload was emptied after the retention period; ask the channel to send "
                "it again.",
                "input",
                "id",
            )
        rows = await store.reopen(
            uow.conn, [message_id], None, RETRYABLE, None, None, None, services.now(), 1
        )
        await ledger.append(uow.conn, _events(rows, EventKind.INTAKE_REPLAYED, actor))
        await uow.commit()
    await retry_one(services, message_id)
    return Result((await by_ids(services, [message_id]))[message_id])


async def replay(
    services: Services, actor: Actor, flt: ReplayFilter, limit: int
) -> Result[list[Any]]:
    """Put every failed payload matching ``flt`` (most impact first, at most ``limit``) back
    in line for an attempt now: after an outage, the DEAD ones; after a SKU map fix, the
    INVALID ones of that channel. The retry job takes them at once (its next round)."""
    if not policy.is_ops(actor):
        return Result.fail(E.NOT_FOUND, "No such intake message.", "input")
    problems: list[ServiceError] = []
    if not flt.statuses or not set(flt.statuses) <= set(RETRYABLE):
        problems.append(
            ServiceError(
                ("input", "filter", "statuses"), E.INVALID, "Name INVALID, DEAD or RETRYING."
            )
        )
    if not 1 <= limit <= REPLAY_LIMIT:
        problems.append(ServiceError(("input", "limit"), E.INVALID, f"1 to {REPLAY_LIMIT}."))
    for path, value in (("channel", flt.channel), ("errorCode", flt.error_code)):
        if value is not None and not lookup_key(value, MAX_CODE):
            problems.append(ServiceError(("input", "filter", path), E.INVALID, "Not a code."))
    if problems:
        return Result(errors=problems)
    async with services.uow() as uow:
        rows = await store.reopen(
            uow.conn,
            None,
            flt.channel,
            flt.statuses,
            flt.error_code,
            flt.since,
            flt.until,
            services.now(),
            limit,
        )
        await ledger.append(uow.conn, _events(rows, EventKind.INTAKE_REPLAYED, actor))
        await uow.commit()
    return Result(rows)


async def discard(services: Services, actor: Actor, message_id: int, reason: str) -> Result[Any]:
    """Close a payload that will never be an order (a test order, a cancelled one), with
    the reason; it leaves the failures list."""
    if not policy.is_ops(actor):
        return _not_found()
    if why := text_problem(reason, required=True):
        return Result.fail(E.INVALID, why, "input", "reason")
    async with services.uow() as uow:
        row = await store.discard(uow.conn, message_id, reason.strip(), actor.name, services.now())
        if row is None:
            found = await store.by_ids(uow.conn, [message_id])
            if not found:
                return _not_found()
            return Result.fail(
                E.NOT_RETRYABLE, "An accepted payload is an order: cancel the order.", "input", "id"
            )
        await ledger.append(
            uow.conn, _events([row], EventKind.INTAKE_DISCARDED, actor, reason=reason.strip())
        )
        await uow.commit()
    return Result(row)


# ---------------------------------------------------------------- configuration


def _channel_event(
    channel: str, actor: Actor, payload: dict[str, Any], before: Any = None
) -> Event:
    return Event(EventKind.INTAKE_CONFIGURED, Subject.CHANNEL, channel, actor.name, payload, before)


def _rule_errors(rules: dict[str, Any], *path: str) -> list[ServiceError]:
    return [
        ServiceError((*path, key[:64]), E.INVALID_RULE, why) for key, why in rule_problems(rules)
    ]


async def configure_channel(
    services: Services, actor: Actor, channel: str, adapter: str, rules: dict[str, Any]
) -> Result[Any]:
    """Set which adapter reads a channel's webhooks, and its rules (replacing them)."""
    if not policy.is_ops(actor):
        return Result.fail(E.UNKNOWN_CHANNEL, "No such channel.", "input", "channel")
    if adapter not in ADAPTERS:
        return Result.fail(
            E.UNKNOWN_ADAPTER,
            f"No adapter {adapter[:64]!r}; adapters are {', '.join(sorted(ADAPTERS))}.",
            "input",
            "adapter",
        )
    if errors := _rule_errors(rules, "input", "rules"):
        return Result(errors=errors)
    async with services.uow() as uow:
        if not lookup_key(channel, MAX_CODE) or not await store.channel_exists(uow.conn, channel):
            return Result.fail(
                E.UNKNOWN_CHANNEL, f"No channel {channel[:64]!r}.", "input", "channel"
            )
        before = await store.upsert_channel(uow.conn, channel, adapter, rules)
        await ledger.append(
            uow.conn,
            [
                _channel_event(
                    channel,
                    actor,
                    {"adapter": adapter, "rules": rules},
                    {"adapter": before["adapter"], "rules": before["rules"]} if before else None,
                )
            ],
        )
        await uow.commit()
    services.cache.clear()  # this replica reads the new configuration at once (others: 5 s)
    return Result(channel)


async def set_account_rules(
    services: Services,
    actor: Actor,
    channel: str,
    account: str,
    rules: dict[str, Any] | None,
) -> Result[Any]:
    """An account's rules on a channel (they override the channel's key by key); None
    removes them."""
    if not policy.is_ops(actor):
        return Result.fail(E.UNKNOWN_CHANNEL, "No such channel.", "input", "channel")
    if why := text_problem(account, MAX_CODE, required=True, one_line=True):
        return Result.fail(E.INVALID, why, "input", "account")
    if rules is not None and (errors := _rule_errors(rules, "input", "rules")):
        return Result(errors=errors)
    async with services.uow() as uow:
        if not lookup_key(channel, MAX_CODE) or not await store.upsert_account_rules(
            uow.conn, channel, account, rules
        ):
            return Result.fail(
                E.UNKNOWN_CHANNEL,
                f"Channel {channel[:64]!r} has no intake (configureIntakeChannel first).",
                "input",
                "channel",
            )
        await ledger.append(
            uow.conn, [_channel_event(channel, actor, {"account": account, "rules": rules})]
        )
        await uow.commit()
    return Result(channel)


async def map_skus(
    services: Services, actor: Actor, channel: str, pairs: Sequence[tuple[str, str | None]]
) -> Result[int]:
    """Map the channel's SKU codes to ours (``None``: remove a mapping)."""
    if not policy.is_ops(actor):
        return Result.fail(E.UNKNOWN_CHANNEL, "No such channel.", "input", "channel")
    if not 1 <= len(pairs) <= MAX_MAPPINGS:
        return Result.fail(E.INVALID, f"1 to {MAX_MAPPINGS} mappings.", "input", "mappings")
    errors = [
        ServiceError(("input", "mappings", str(i), key), E.INVALID, why)
        for i, (external, ours) in enumerate(pairs)
        for key, value in (("externalSku", external), ("sku", ours))
        if (why := text_problem(value, MAX_CODE, required=key == "externalSku", one_line=True))
    ]
    if errors:
        return Result(errors=errors)
    async with services.uow() as uow:
        if not lookup_key(channel, MAX_CODE) or not await store.channel_exists(uow.conn, channel):
            return Result.fail(
                E.UNKNOWN_CHANNEL, f"No channel {channel[:64]!r}.", "input", "channel"
            )
        unknown = set(await store.unknown_skus(uow.conn, [s for _, s in pairs if s is not None]))
        if unknown:
            return Result(
                errors=[
                    ServiceError(
                        ("input", "mappings", str(i), "sku"), E.UNKNOWN_SKU, f"No product {ours!r}."
                    )
                    for i, (_, ours) in enumerate(pairs)
                    if ours in unknown
                ]
            )
        await store.map_skus(uow.conn, channel, pairs)
        await ledger.append(
            uow.conn,
            [_channel_event(channel, actor, {"skuMap": dict(pairs[:100]), "count": len(pairs)})],
        )
        await uow.commit()
    return Result(len(pairs))
