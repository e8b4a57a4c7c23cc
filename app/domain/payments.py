"""Payment rules: what a line pays at placement, what it still owes, what is captured at
dispatch, what a cancellation gives back, and which authorization is live.

The payment ledger (``payment_entries``) is append-only: every authorize, capture, refund, void
and re-authorization is one entry. Everything here is computed from those entries, so the
figures an order shows, the captures dispatch takes and the reversals cancellation makes all
follow one set of rules. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from app.domain.availability import PaymentTerms
from app.domain.lines import LineState


class PaymentKind(StrEnum):
    AUTHORIZE = "AUTHORIZE"
    CAPTURE = "CAPTURE"
    REFUND = "REFUND"
    VOID = "VOID"
    REAUTHORIZE = "REAUTHORIZE"


AUTHORIZATIONS = frozenset({PaymentKind.AUTHORIZE, PaymentKind.REAUTHORIZE})


@dataclass(frozen=True)
class LedgerEntry:
    """One payment entry of a line, as the rules need it."""

    id: int
    kind: PaymentKind
    amount_minor: int
    reference: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PaymentStep:
    """What to do with the gateway at placement for one line, and what stays due."""

    kind: PaymentKind
    amount_minor: int
    due_at_dispatch_minor: int


def payment_at_placement(
    state: LineState,
    terms: PaymentTerms,
    amount_minor: int,
    quantity: int,
    deposit_percent: float | None,
    deposit_minor_per_unit: int | None,
) -> PaymentStep:
    """READY: capture all now. PRE_ORDER / BACKORDER: by the product's terms."""
    if state is LineState.READY or terms is PaymentTerms.FULL:
        return PaymentStep(PaymentKind.CAPTURE, amount_minor, 0)
    if terms is PaymentTerms.AUTHORIZE:
        return PaymentStep(PaymentKind.AUTHORIZE, amount_minor, amount_minor)
    if deposit_percent is not None:
        deposit = int(
            (Decimal(amount_minor) * Decimal(str(deposit_percent)) / 100).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        )
    else:
        deposit = min(amount_minor, (deposit_minor_per_unit or 0) * quantity)
    return PaymentStep(PaymentKind.CAPTURE, deposit, amount_minor - deposit)


def compensation(kind: PaymentKind) -> PaymentKind | None:
    """What undoes a gateway call whose transaction failed: a capture is refunded, an
    authorization voided; anything else needs no undoing."""
    if kind is PaymentKind.CAPTURE:
        return PaymentKind.REFUND
    if kind in AUTHORIZATIONS:
        return PaymentKind.VOID
    return None


def captured(entries: Iterable[LedgerEntry]) -> int:
    return sum(e.amount_minor for e in entries if e.kind is PaymentKind.CAPTURE)


def live_authorization(entries: Sequence[LedgerEntry]) -> LedgerEntry | None:
    """The line's current authorization: its newest AUTHORIZE or REAUTHORIZE, unless a VOID
    came after it (a renewal voids the old one before it records the new)."""
    auths = [e for e in entries if e.kind in AUTHORIZATIONS]
    if not auths:
        return None
    newest = max(auths, key=lambda e: e.id)
    voided = any(e.kind is PaymentKind.VOID and e.id > newest.id for e in entries)
    return None if voided else newest


def amount_due(line_total_minor: int, entries: Iterable[LedgerEntry], cancelled: bool) -> int:
    """What a line still owes at dispatch: its total less what was captured; nothing once
    cancelled."""
    if cancelled:
        return 0
    return max(0, line_total_minor - captured(entries))


@dataclass(frozen=True)
class PlannedCall:
    """A gateway call the rules ask for: ``reference`` names the entry it acts on (the
    authorization to capture, the capture to refund), None for a fresh charge."""

    kind: PaymentKind
    amount_minor: int
    reference: str | None
    note: str


def capture_at_dispatch(
    line_total_minor: int, entries: Sequence[LedgerEntry]
) -> PlannedCall | None:
    """At dispatch the balance is captured: from the live authorization (up to its amount)
    when there is one, else as a fresh charge. None when nothing is due."""
    due = amount_due(line_total_minor, entries, cancelled=False)
    if due <= 0:
        return None
    auth = live_authorization(entries)
    if auth is not None:
        return PlannedCall(
            PaymentKind.CAPTURE,
            min(due, auth.amount_minor),
            auth.reference,
            f"capture of {auth.reference} at dispatch",
        )
    return PlannedCall(PaymentKind.CAPTURE, due, None, "balance captured at dispatch")


def reversals_on_cancel(entries: Sequence[LedgerEntry], reason: str | None) -> list[PlannedCall]:
    """A cancelled line gives everything back: each capture is refunded and the live
    authorization voided, each by the reference the gateway gave it (a line is cancelled
    once: only open lines can be)."""
    planned = [(PaymentKind.REFUND, e) for e in entries if e.kind is PaymentKind.CAPTURE]
    auth = live_authorization(entries)
    if auth is not None:
        planned.append((PaymentKind.VOID, auth))
    suffix = f": {reason}" if reason else ""
    return [
        PlannedCall(
            kind, e.amount_minor, e.reference, f"{kind.value.lower()} of {e.reference}{suffix}"
        )
        for kind, e in planned
    ]


def authorization_to_renew(entries: Sequence[LedgerEntry], before: datetime) -> LedgerEntry | None:
    """The live authorization when it expires by ``before`` (it must be renewed before the
    goods ship); None otherwise."""
    auth = live_authorization(entries)
    if auth is None or auth.expires_at is None or auth.expires_at > before:
        return None
    return auth


@dataclass(frozen=True)
class PaymentTotals:
    captured: int
    authorized: int  # authorized and not voided
    refunded: int
    voided: int
    due: int


def totals(entries: Iterable[LedgerEntry], due: int) -> PaymentTotals:
    sums: dict[PaymentKind, int] = {}
    for e in entries:
        sums[e.kind] = sums.get(e.kind, 0) + e.amount_minor
    voided = sums.get(PaymentKind.VOID, 0)
    authorized = sums.get(PaymentKind.AUTHORIZE, 0) + sums.get(PaymentKind.REAUTHORIZE, 0)
    return PaymentTotals(
        captured=sums.get(PaymentKind.CAPTURE, 0),
        authorized=max(0, authorized - voided),
        refunded=sums.get(PaymentKind.REFUND, 0),
        voided=voided,
        due=due,
    )
