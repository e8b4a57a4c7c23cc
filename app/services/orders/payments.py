"""Money at the gateway: the journal that gives it back when a transaction fails, the
reversals of a cancellation, the captures of a dispatch, and authorization renewals.

What to charge, refund or void is the domain's rule (``app.domain.payments``); this module
makes those calls through the services' gateway and records each in the payment ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from app.domain.events import EventKind, line_event, order_event
from app.domain.payments import (
    LedgerEntry,
    PaymentKind,
    PlannedCall,
    authorization_to_renew,
    capture_at_dispatch,
    compensation,
    reversals_on_cancel,
)
from app.services.container import Services
from app.services.gateway import GatewayResult, PaymentGateway
from app.services.results import Actor, Result
from app.storage import ledger
from app.storage import payments as store
from app.storage.payments import NewEntry


class PaymentDeclined(Exception):
    """The gateway declined a charge: the use case gives back what it took and refuses."""


class GatewayJournal:
    """The gateway calls of one attempt, so that a failed transaction gives the money back:
    a capture is refunded and an authorization voided, each by its reference."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway
        self.name = gateway.name
        self.done: list[tuple[PaymentKind, int, str, str]] = []

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        result = await self.gateway.execute(kind, amount_minor, currency, reference)
        if result.approved:
            self.done.append((kind, amount_minor, currency, result.reference))
        return result

    async def compensate(self) -> None:
        for kind, amount, currency, reference in reversed(self.done):
            undo = compensation(kind)
            if undo is not None:
                await self.gateway.execute(undo, amount, currency, reference)
        self.done.clear()


async def _call(
    gateway: PaymentGateway, line_id: int, planned: PlannedCall, currency: str
) -> NewEntry:
    result = await gateway.execute(planned.kind, planned.amount_minor, currency, planned.reference)
    if not result.approved:
        raise PaymentDeclined(result.message or "declined")
    return NewEntry(
        line_id,
        planned.kind,
        planned.amount_minor,
        currency,
        gateway.name,
        result.reference,
        None,
        planned.note,
    )


async def reverse_on_cancel(
    conn: asyncpg.Connection,
    gateway: PaymentGateway,
    order_id: uuid.UUID,
    line_ids: Sequence[int],
    currency: str,
    reason: str | None,
    actor: str,
) -> None:
    """Refund each capture and void the live authorization of every cancelled line, each by
    the reference the gateway gave it (a real PSP needs it), and record them (entries, and
    one ``payment.refunded`` event with the totals)."""
    by_line = await store.entries_by_line(conn, line_ids)
    entries: list[NewEntry] = []
    for line_id in line_ids:
        for planned in reversals_on_cancel(by_line[line_id], reason):
            result = await gateway.execute(
                planned.kind, planned.amount_minor, currency, planned.reference
            )
            entries.append(
                NewEntry(
                    line_id,
                    planned.kind,
                    planned.amount_minor,
                    currency,
                    gateway.name,
                    result.reference,
                    None,
                    planned.note,
                )
            )
    await store.insert_entries(conn, order_id, entries)
    if entries:
        await ledger.append(
            conn, [_money_event(EventKind.PAYMENT_REFUNDED, order_id, entries, currency, actor)]
        )


def _money_event(
    kind: EventKind, order_id: uuid.UUID, entries: Sequence[NewEntry], currency: str, actor: str
) -> Any:
    sums: dict[str, int] = {}
    for entry in entries:
        sums[entry.kind.value] = sums.get(entry.kind.value, 0) + entry.amount_minor
    return order_event(
        kind,
        order_id,
        actor,
        {
            "amounts": sums,
            "amountMinor": sum(sums.values()),
            "currency": currency,
            "lineIds": sorted({e.line_id for e in entries}),
            "balance": kind is EventKind.PAYMENT_CAPTURED,
        },
    )


@dataclass(frozen=True)
class LineCharge:
    line_id: int
    total_minor: int


async def capture_on_dispatch(
    conn: asyncpg.Connection,
    journal: GatewayJournal,
    order_id: uuid.UUID,
    lines: Sequence[LineCharge],
    currency: str,
    actor: str,
) -> None:
    """Capture what each shipped line still owes (a deposit's balance, an authorization) and
    record it (entries, and one ``payment.captured`` event with the total); ``PaymentDeclined``
    on a refusal (the journal then refunds the rest)."""
    by_line = await store.entries_by_line(conn, [line.line_id for line in lines])
    entries: list[NewEntry] = []
    for line in lines:
        planned = capture_at_dispatch(line.total_minor, by_line[line.line_id])
        if planned is not None:
            entries.append(await _call(journal, line.line_id, planned, currency))
    await store.insert_entries(conn, order_id, entries)
    if entries:
        await ledger.append(
            conn, [_money_event(EventKind.PAYMENT_CAPTURED, order_id, entries, currency, actor)]
        )


async def renew_authorizations(
    services: Services, actor: Actor, within: timedelta = timedelta(days=1)
) -> Result[int]:
    """Re-authorize waiting lines whose authorization expires within ``within``: a new
    authorization is taken and the old one voided, so a pre-order whose release is further
    away than an authorization lasts is still covered when it ships. Safe to run on several
    replicas at once (``SKIP LOCKED``)."""
    gateway = services.gateway
    now = services.now()
    valid = timedelta(days=services.settings.authorization_valid_days)
    renewed = 0
    async with services.uow() as uow:
        conn = uow.conn
        candidates = await store.renewal_candidates(conn, now + within)
        by_line = await store.entries_by_line(conn, [c["line_id"] for c in candidates])
        for row in candidates:
            old: LedgerEntry | None = authorization_to_renew(by_line[row["line_id"]], now + within)
            if old is None:
                continue
            currency = row["currency"]
            new = await gateway.execute(PaymentKind.REAUTHORIZE, old.amount_minor, currency, None)
            if not new.approved:
                continue
            voided = await gateway.execute(
                PaymentKind.VOID, old.amount_minor, currency, old.reference
            )
            await store.insert_entries(
                conn,
                row["order_id"],
                [
                    # the VOID first: the renewal must be the newest entry of the line
                    NewEntry(
                        row["line_id"],
                        PaymentKind.VOID,
                        old.amount_minor,
                        currency,
                        gateway.name,
                        voided.reference,
                        None,
                        f"replaced by {new.reference}",
                    ),
                    NewEntry(
                        row["line_id"],
                        PaymentKind.REAUTHORIZE,
                        old.amount_minor,
                        currency,
                        gateway.name,
                        new.reference,
                        now + valid,
                        f"renews {old.reference}",
                    ),
                ],
            )
            expires = old.expires_at.isoformat() if old.expires_at else None
            await ledger.append(
                conn,
                [
                    line_event(
                        EventKind.PAYMENT_REAUTHORIZED,
                        row["order_id"],
                        row["line_id"],
                        actor.name,
                        {"reference": new.reference, "expiresAt": (now + valid).isoformat()},
                        {"reference": old.reference, "expiresAt": expires},
                    )
                ],
            )
            renewed += 1
        await uow.commit()
    return Result(renewed)
