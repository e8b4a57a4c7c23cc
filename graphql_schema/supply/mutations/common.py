"""What the supply mutations share: reading a supply record's global ID, the answer."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from app.services.error_codes import SupplyErrorCode
from app.services.results import ServiceError
from graphql_schema.context import Context
from graphql_schema.orders.types import line_number
from graphql_schema.relay import split_global_id
from graphql_schema.supply.types import Supply


def supply_key(global_id: str) -> int | None:
    """The supply record a global ``Supply`` ID names; None for anything else."""
    parts = split_global_id(global_id)
    return line_number(parts[1]) if parts and parts[0] == "Supply" else None


def no_supply(field: str) -> list[ServiceError]:
    return [ServiceError(("input", field), SupplyErrorCode.SUPPLY_NOT_FOUND, "No such supply.")]


def changed_supply(info: Info[Context, Any], row: Any) -> Supply | None:
    info.context.loaders.supply_history.clear_all()
    return Supply.from_row(row) if row is not None else None
