"""Why on-hand stock changed (the stock ledger's reasons)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="Why on-hand stock changed; recorded in the stock ledger.")
class StockReason(Enum):
    COUNT = "COUNT"
    RECEIPT = "RECEIPT"
    DAMAGE = "DAMAGE"
    LOSS = "LOSS"
    RETURN = "RETURN"
    CORRECTION = "CORRECTION"
    TRANSFER = "TRANSFER"
    SHIPMENT = "SHIPMENT"
