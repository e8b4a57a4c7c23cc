"""The payment terms input of the pre-order and backorder policies."""

from __future__ import annotations

import strawberry

from app.domain.availability import PaymentTerms
from app.services.inventory import PaymentInput
from graphql_schema.enums import PaymentTermsKind
from graphql_schema.money import MoneyInput, currency_of


@strawberry.input(description="How a pre-order or backorder is paid.")
class PaymentTermsInput:
    kind: PaymentTermsKind = PaymentTerms.FULL
    deposit_percent: float | None = strawberry.field(
        default=None, description="DEPOSIT: percent of the price paid now (above 0, below 100)."
    )
    deposit_amount: MoneyInput | None = strawberry.field(
        default=None,
        description="DEPOSIT: amount per unit paid now, in the product's currency.",
    )


def payment_input(value: PaymentTermsInput | None) -> PaymentInput:
    if value is None:
        return PaymentInput()
    amount = value.deposit_amount
    return PaymentInput(
        terms=PaymentTerms(value.kind),
        deposit_percent=value.deposit_percent,
        deposit_minor=amount.amount_minor if amount else None,
        deposit_currency=currency_of(amount.currency) if amount else None,
    )
