"""Consolidation merges one customer's waiting shipments all together or not at all, into the
one with the earliest deadline, and says why each refused shipment or line cannot merge."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.consolidation import (
    Destination,
    LooseLine,
    Merge,
    OpenShipment,
    Refusal,
    address_key,
    plan,
)
from app.domain.shipments import FulfilmentKind, ShipmentStatus

T0 = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
HOME = {"region": "EU", "postalCode": "1011 AB", "lines": ["Main street 1", "3rd floor"]}
HERE = Destination.of("ada@example.com", "webstore", HOME, None)


def shipment(
    sid: int,
    hours: int = 0,
    status: ShipmentStatus = ShipmentStatus.PICKING,
    destination: Destination = HERE,
    states: tuple[str, ...] = ("PRE_ORDER",),
) -> OpenShipment:
    return OpenShipment(sid, f"S-{sid}", status, T0 + timedelta(hours=hours), destination, states)


def loose(lid: int, **changes: Any) -> LooseLine:
    line = LooseLine(lid, f"line {lid}", "BACKORDER", 2, 2, True, False, HERE)
    return replace(line, **changes)


def reasons(outcome: Merge | list[Any]) -> list[tuple[Refusal, int | None, int | None]]:
    assert isinstance(outcome, list), outcome
    return [(p.reason, p.shipment_id, p.line_id) for p in outcome]


def test_the_shipment_with_the_earliest_deadline_survives_and_the_others_are_saved() -> None:
    outcome = plan([shipment(3, hours=30), shipment(1, hours=48), shipment(2, hours=24)], [])
    assert outcome == Merge(
        survivor=2, cancelled=(1, 3), added_lines=(), kind=FulfilmentKind.PRE_ORDER
    )
    assert outcome.shipments_saved == 2


def test_equal_deadlines_keep_the_oldest_shipment() -> None:
    outcome = plan([shipment(5), shipment(4)], [])
    assert isinstance(outcome, Merge)
    assert (outcome.survivor, outcome.cancelled) == (4, (5,))


def test_released_lines_in_no_shipment_join_and_a_backorder_makes_it_backorder_work() -> None:
    outcome = plan([shipment(1)], [loose(9), loose(8)])
    assert outcome == Merge(1, (), (8, 9), FulfilmentKind.BACKORDER)


def test_a_packed_or_held_shipment_cannot_merge_and_nothing_is_merged() -> None:
    packed = shipment(2, status=ShipmentStatus.PACKED)
    held = shipment(3, status=ShipmentStatus.ON_HOLD)
    assert reasons(plan([shipment(1), packed, held], [])) == [
        (Refusal.ALREADY_PACKED, 2, None),
        (Refusal.ALREADY_PACKED, 3, None),
    ]


def test_a_line_whose_units_are_not_all_there_or_that_cannot_ship_yet_is_not_allocated() -> None:
    outcome = plan(
        [shipment(1)],
        [loose(7, allocated=1), loose(8, paused=True), loose(9, released=False), loose(10)],
    )
    assert reasons(outcome) == [
        (Refusal.NOT_ALLOCATED, None, 7),
        (Refusal.NOT_ALLOCATED, None, 8),
        (Refusal.NOT_ALLOCATED, None, 9),
    ]
    assert "has 1 of its 2 units" in outcome[0].message  # type: ignore[index]


def test_another_address_carrier_service_channel_or_customer_is_refused_with_its_reason() -> None:
    elsewhere = Destination.of("ada@example.com", "webstore", {**HOME, "lines": ["Dam 2"]}, None)
    express = Destination.of("ada@example.com", "webstore", HOME, "EXPRESS")
    market = Destination.of("ada@example.com", "marketplace", HOME, None)
    bob = Destination.of("bob@example.com", "webstore", HOME, None)
    outcome = plan(
        [
            shipment(1),
            shipment(2, hours=1, destination=elsewhere),
            shipment(3, hours=1, destination=express),
            shipment(4, hours=1, destination=market),
        ],
        [loose(5, destination=bob)],
    )
    assert reasons(outcome) == [
        (Refusal.DIFFERENT_ADDRESS, 2, None),
        (Refusal.DIFFERENT_CARRIER_SERVICE, 3, None),
        (Refusal.DIFFERENT_CHANNEL, 4, None),
        (Refusal.DIFFERENT_CUSTOMER, None, 5),
    ]


def test_addresses_match_without_case_extra_spaces_or_empty_fields() -> None:
    typed = {"region": "eu", "postalCode": "1011  ab ", "lines": ["MAIN street 1", "3rd  Floor"]}
    assert address_key(HOME) == address_key({**typed, "city": ""})
    assert address_key(HOME) != address_key({**HOME, "lines": ["Main street 1"]})
    assert hash(Destination.of("ada@example.com", "webstore", HOME, None))
    assert address_key({**HOME, "carrierService": "EXPRESS"}) == address_key(HOME)
    assert Destination.of(" Ada@Example.com", "webstore", HOME, " express") == Destination.of(
        "ada@example.com", "webstore", HOME, "EXPRESS"
    )


def test_one_shipment_alone_or_nothing_at_all_is_nothing_to_consolidate() -> None:
    assert reasons(plan([shipment(1)], [])) == [(Refusal.NOTHING_TO_CONSOLIDATE, 1, None)]
    assert reasons(plan([], [])) == [(Refusal.NOTHING_TO_CONSOLIDATE, None, None)]


def test_lines_with_no_open_shipment_to_join_are_nothing_to_consolidate() -> None:
    assert reasons(plan([], [loose(1), loose(2)])) == [(Refusal.NOTHING_TO_CONSOLIDATE, None, None)]
