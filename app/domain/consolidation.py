"""Consolidation: one customer's waiting pre-order and backorder shipments (and the released
lines not in a shipment yet) merged into one shipment, when all of them can.

All or nothing: ``plan`` either merges everything it was given or refuses, listing every
shipment and line that cannot merge with its reason; nothing is merged then. What can merge:

- shipments still being picked (PICKING): one packed, awaiting the carrier or on hold has
  been worked on, and is ALREADY_PACKED;
- lines whose units are all there and may ship now (allocated in full, released, not
  paused), else NOT_ALLOCATED;
- of the same customer, channel, address and carrier service as the shipment that survives:
  the one with the earliest dispatch deadline (then the lowest id), which keeps its deadline.

Pure rules, no I/O; the use case is ``app.services.consolidation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain.shipments import FulfilmentKind, ShipmentStatus, kind_of

CARRIER_SERVICE_KEY = "carrierService"


class Refusal(StrEnum):
    """Why a shipment or a line cannot merge (the codes ``userErrors`` carry)."""

    DIFFERENT_CUSTOMER = "DIFFERENT_CUSTOMER"
    DIFFERENT_CHANNEL = "DIFFERENT_CHANNEL"
    DIFFERENT_ADDRESS = "DIFFERENT_ADDRESS"
    DIFFERENT_CARRIER_SERVICE = "DIFFERENT_CARRIER_SERVICE"
    ALREADY_PACKED = "ALREADY_PACKED"
    NOT_ALLOCATED = "NOT_ALLOCATED"
    NOTHING_TO_CONSOLIDATE = "NOTHING_TO_CONSOLIDATE"


def _frozen(value: Any) -> Any:
    """A value compared without case or extra spaces, and hashable (address lines are a
    list)."""
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value if v not in (None, ""))
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    return value


def address_key(address: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """Where a parcel goes, compared without case or extra spaces; the carrier service is
    compared on its own (``carrier_key``), and empty fields are as absent."""
    if not address:
        return ()
    return tuple(
        sorted(
            (key, _frozen(value))
            for key, value in address.items()
            if key != CARRIER_SERVICE_KEY and value not in (None, "", [])
        )
    )


def carrier_key(service: str | None) -> str | None:
    return service.strip().upper() if service and service.strip() else None


@dataclass(frozen=True)
class Destination:
    """Who receives a parcel, where, sold on which channel and sent by which service."""

    customer: str
    channel: str
    address: tuple[tuple[str, Any], ...]
    carrier_service: str | None

    @classmethod
    def of(
        cls,
        customer: str,
        channel: str,
        address: Mapping[str, Any] | None,
        carrier_service: str | None,
    ) -> Destination:
        return cls(
            customer.strip().casefold(), channel, address_key(address), carrier_key(carrier_service)
        )


@dataclass(frozen=True)
class OpenShipment:
    id: int
    number: str
    status: ShipmentStatus
    deadline: datetime
    destination: Destination
    line_states: tuple[str, ...]


@dataclass(frozen=True)
class LooseLine:
    """A pre-order or backorder line of the customer that is in no shipment yet."""

    id: int
    label: str  # how a message names it, e.g. "line 2 of PO-2031-000004 (AURORA-HP)"
    state: str
    quantity: int
    allocated: int
    released: bool
    paused: bool
    destination: Destination


@dataclass(frozen=True)
class Problem:
    reason: Refusal
    shipment_id: int | None
    line_id: int | None
    message: str


@dataclass(frozen=True)
class Merge:
    survivor: int
    cancelled: tuple[int, ...]  # the shipments merged into it, in id order
    added_lines: tuple[int, ...]  # lines that were in no shipment, in id order
    kind: FulfilmentKind  # the survivor's work list once merged

    @property
    def shipments_saved(self) -> int:
        return len(self.cancelled)


def _differs(reference: Destination, other: Destination) -> tuple[Refusal, str] | None:
    """The first way ``other`` cannot travel with ``reference``."""
    if other.customer != reference.customer:
        return Refusal.DIFFERENT_CUSTOMER, "is for another customer"
    if other.channel != reference.channel:
        return Refusal.DIFFERENT_CHANNEL, f"was sold on {other.channel}, not {reference.channel}"
    if other.address != reference.address:
        return Refusal.DIFFERENT_ADDRESS, "goes to another address"
    if other.carrier_service != reference.carrier_service:
        want = reference.carrier_service or "the region's standard service"
        has = other.carrier_service or "the region's standard service"
        return Refusal.DIFFERENT_CARRIER_SERVICE, f"ships by {has}, not {want}"
    return None


def _line_problem(line: LooseLine) -> str | None:
    if line.allocated < line.quantity:
        return f"has {line.allocated} of its {line.quantity} units"
    if line.paused:
        return "is paused"
    if not line.released:
        return "is not released yet"
    return None


def plan(shipments: Sequence[OpenShipment], lines: Iterable[LooseLine]) -> Merge | list[Problem]:
    """One merge of every shipment and line given, or every reason it cannot be (nothing is
    merged then). The survivor is the PICKING shipment with the earliest deadline; with no
    such shipment, or nothing to merge into it, NOTHING_TO_CONSOLIDATE."""
    loose = sorted(lines, key=lambda line: line.id)
    problems: list[Problem] = []
    pickable = [s for s in shipments if s.status is ShipmentStatus.PICKING]
    for s in sorted(shipments, key=lambda s: s.id):
        if s.status is not ShipmentStatus.PICKING:
            problems.append(
                Problem(
                    Refusal.ALREADY_PACKED,
                    s.id,
                    None,
                    f"Shipment {s.number} is {s.status.value}: only shipments still being "
                    "picked can merge.",
                )
            )
    for line in loose:
        why = _line_problem(line)
        if why is not None:
            problems.append(
                Problem(Refusal.NOT_ALLOCATED, None, line.id, f"The {line.label} {why}.")
            )
    if not pickable:
        return problems or [
            Problem(Refusal.NOTHING_TO_CONSOLIDATE, None, None, "No open shipment to merge into.")
        ]
    survivor = min(pickable, key=lambda s: (s.deadline, s.id))
    reference = survivor.destination
    others = sorted((s for s in pickable if s.id != survivor.id), key=lambda s: s.id)
    for s in others:
        differs = _differs(reference, s.destination)
        if differs is not None:
            reason, how = differs
            problems.append(
                Problem(
                    reason,
                    s.id,
                    None,
                    f"Shipment {s.number} cannot travel with {survivor.number}: it {how}.",
                )
            )
    for line in loose:
        differs = _differs(reference, line.destination)
        if differs is not None:
            reason, how = differs
            problems.append(
                Problem(
                    reason,
                    None,
                    line.id,
                    f"The {line.label} cannot travel with {survivor.number}: it {how}.",
                )
            )
    if problems:
        return problems
    if not others and not loose:
        return [
            Problem(
                Refusal.NOTHING_TO_CONSOLIDATE,
                survivor.id,
                None,
                f"Shipment {survivor.number} is the only one: there is nothing to merge.",
            )
        ]
    states = [state for s in pickable for state in s.line_states]
    states.extend(line.state for line in loose)
    return Merge(
        survivor=survivor.id,
        cancelled=tuple(s.id for s in others),
        added_lines=tuple(line.id for line in loose),
        kind=kind_of(states),
    )
