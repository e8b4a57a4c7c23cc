"""The payment rules: what is paid at placement, owed, captured at dispatch, given back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.availability import PaymentTerms
from app.domain.lines import LineState
from app.domain.payments import (
    LedgerEntry,
    PaymentKind,
    amount_due,
    authorization_to_renew,
    capture_at_dispatch,
    compensation,
    live_authorization,
    payment_at_placement,
    reversals_on_cancel,
    totals,
)

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def entry(id: int, kind: PaymentKind, amount: int, ref: str = "", expires: datetime | None = None):
    return LedgerEntry(id, kind, amount, ref or f"ref-{id}", expires)


def test_ready_lines_pay_in_full_at_placement_whatever_the_terms() -> None:
    step = payment_at_placement(LineState.READY, PaymentTerms.DEPOSIT, 1000, 2, 20.0, None)
    assert (step.kind, step.amount_minor, step.due_at_dispatch_minor) == (
        PaymentKind.CAPTURE,
        1000,
        0,
    )


def test_a_deposit_by_percent_is_rounded_half_up_and_leaves_the_balance_due() -> None:
    step = payment_at_placement(LineState.PRE_ORDER, PaymentTerms.DEPOSIT, 999, 1, 12.5, None)
    assert (step.amount_minor, step.due_at_dispatch_minor) == (125, 874)


def test_a_deposit_per_unit_never_exceeds_the_line_total() -> None:
    step = payment_at_placement(LineState.BACKORDER, PaymentTerms.DEPOSIT, 300, 3, None, 500)
    assert (step.amount_minor, step.due_at_dispatch_minor) == (300, 0)


def test_authorize_terms_authorize_the_whole_amount_and_capture_it_at_dispatch() -> None:
    step = payment_at_placement(LineState.PRE_ORDER, PaymentTerms.AUTHORIZE, 4990, 1, None, None)
    assert (step.kind, step.amount_minor, step.due_at_dispatch_minor) == (
        PaymentKind.AUTHORIZE,
        4990,
        4990,
    )


def test_captures_are_refunded_and_authorizations_voided_when_a_transaction_fails() -> None:
    assert compensation(PaymentKind.CAPTURE) is PaymentKind.REFUND
    assert compensation(PaymentKind.AUTHORIZE) is PaymentKind.VOID
    assert compensation(PaymentKind.REAUTHORIZE) is PaymentKind.VOID
    assert compensation(PaymentKind.REFUND) is None


def test_the_live_authorization_is_the_newest_one_not_voided_after_it() -> None:
    first = entry(1, PaymentKind.AUTHORIZE, 500)
    renewal = entry(3, PaymentKind.REAUTHORIZE, 500)
    voided_first = entry(2, PaymentKind.VOID, 500, "ref-1")
    assert live_authorization([first]) == first
    assert live_authorization([first, voided_first, renewal]) == renewal
    assert live_authorization([first, voided_first]) is None
    assert live_authorization([entry(1, PaymentKind.CAPTURE, 500)]) is None


def test_what_is_due_is_the_total_less_captures_and_nothing_once_cancelled() -> None:
    entries = [entry(1, PaymentKind.CAPTURE, 200), entry(2, PaymentKind.AUTHORIZE, 800)]
    assert amount_due(1000, entries, cancelled=False) == 800
    assert amount_due(1000, entries, cancelled=True) == 0
    assert amount_due(100, entries, cancelled=False) == 0  # never negative


def test_dispatch_captures_the_balance_from_the_live_authorization_up_to_its_amount() -> None:
    entries = [entry(1, PaymentKind.CAPTURE, 200), entry(2, PaymentKind.AUTHORIZE, 500, "auth")]
    call = capture_at_dispatch(1000, entries)
    assert call is not None
    assert (call.kind, call.amount_minor, call.reference) == (PaymentKind.CAPTURE, 500, "auth")
    assert call.note == "capture of auth at dispatch"


def test_dispatch_charges_the_balance_afresh_without_an_authorization() -> None:
    call = capture_at_dispatch(1000, [entry(1, PaymentKind.CAPTURE, 300)])
    assert call is not None
    assert (call.amount_minor, call.reference, call.note) == (
        700,
        None,
        "balance captured at dispatch",
    )
    assert capture_at_dispatch(300, [entry(1, PaymentKind.CAPTURE, 300)]) is None


def test_cancelling_refunds_every_capture_and_voids_the_live_authorization_by_reference() -> None:
    entries = [
        entry(1, PaymentKind.CAPTURE, 200, "dep"),
        entry(2, PaymentKind.AUTHORIZE, 800, "old"),
        entry(3, PaymentKind.VOID, 800, "old"),
        entry(4, PaymentKind.REAUTHORIZE, 800, "new"),
    ]
    calls = reversals_on_cancel(entries, "changed my mind")
    assert [(c.kind, c.amount_minor, c.reference) for c in calls] == [
        (PaymentKind.REFUND, 200, "dep"),
        (PaymentKind.VOID, 800, "new"),
    ]
    assert calls[0].note == "refund of dep: changed my mind"
    assert reversals_on_cancel([], None) == []


@pytest.mark.parametrize(
    ("expires_in", "renew"), [(timedelta(hours=1), True), (timedelta(days=3), False)]
)
def test_an_authorization_is_renewed_only_when_it_expires_within_the_window(
    expires_in: timedelta, renew: bool
) -> None:
    auth = entry(1, PaymentKind.AUTHORIZE, 500, "a", NOW + expires_in)
    found = authorization_to_renew([auth], NOW + timedelta(days=1))
    assert (found == auth) is renew
    voided = [auth, entry(2, PaymentKind.VOID, 500, "a")]
    assert authorization_to_renew(voided, NOW + timedelta(days=1)) is None


def test_totals_count_authorizations_less_voids() -> None:
    entries = [
        entry(1, PaymentKind.AUTHORIZE, 500),
        entry(2, PaymentKind.VOID, 500),
        entry(3, PaymentKind.REAUTHORIZE, 500),
        entry(4, PaymentKind.CAPTURE, 100),
        entry(5, PaymentKind.REFUND, 100),
    ]
    t = totals(entries, due=0)
    assert (t.captured, t.authorized, t.refunded, t.voided, t.due) == (100, 500, 100, 500, 0)
