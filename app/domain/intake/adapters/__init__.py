"""Adapters: one module per payload shape, each turning one decoded payload into the same
``IntakeOrder``. Adding a channel of a new shape is one module here (registered in
``ADAPTERS``) plus configuration (``configureIntakeChannel``: the adapter's name, the rules,
the SKU map; the signing secret in ``OMS_INTAKE_SECRETS``).

An adapter has a ``name``, ``maps_skus`` (whether its SKU codes are the channel's own, looked
up in the channel's SKU map) and ``read(document)``, returning the order or the refusals
(errors as data, each with where in the payload it is)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.intake import IntakeOrder, Refusal
from app.domain.intake.adapters import marketplace, native, till


@dataclass(frozen=True)
class Adapter:
    name: str
    maps_skus: bool
    read: Callable[[Any], IntakeOrder | list[Refusal]]
    external_id: Callable[[Any], str | None]
    description: str


ADAPTERS: Mapping[str, Adapter] = {
    a.name: a
    for a in (
        Adapter("NATIVE", False, native.read, native.external_id, "placeOrder's input, as JSON"),
        Adapter(
            "MARKETPLACE",
            True,
            marketplace.read,
            marketplace.external_id,
            "a marketplace order: nested items, prices with tax, the marketplace's SKU codes",
        ),
        Adapter(
            "TILL",
            False,
            till.read,
            till.external_id,
            "a shop till's receipt (batches: JSON lines or CSV, one row per line sold)",
        ),
    )
}
