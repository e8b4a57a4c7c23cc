"""Payment gateways. The service records every step in the payment ledger; the gateway is
where a real store plugs in its PSP: one object, given to ``Services`` (the composition point),
that every use case calls. ``LedgerGateway`` is the built-in one: it records entries and moves
no money (a store that takes payment elsewhere, e.g. at the till, runs with it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from app.domain.payments import PaymentKind


@dataclass(frozen=True)
class GatewayResult:
    reference: str
    approved: bool
    message: str | None = None


class PaymentGateway(Protocol):
    name: str

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        """Authorize, capture, refund, void or re-authorize ``amount_minor``."""
        ...


class LedgerGateway:
    name = "ledger"

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        return GatewayResult(
            reference=f"ledger-{kind.value.lower()}-{uuid.uuid4().hex[:16]}", approved=True
        )
