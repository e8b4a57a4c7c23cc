"""The intake's pure part: each adapter's normalisation from realistic fixtures, the rules,
signatures and the impact score."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.intake import IntakeLine, IntakeOrder, Refusal, RefusalCode
from app.domain.intake.adapters import ADAPTERS
from app.domain.intake.adapters.till import receipt_from_raw, split_batch
from app.domain.intake.impact import impact_score
from app.domain.intake.rules import apply, check, merged, rule_problems
from app.domain.intake.signatures import SignatureProblem, sign, verify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_a_marketplace_order_is_read_with_its_own_skus_prices_with_tax_and_ship_by() -> None:
    order = ADAPTERS["MARKETPLACE"].read(json.loads(fixture("marketplace_order.json")))
    assert isinstance(order, IntakeOrder)
    assert order.external_id == "405-1234567-7654321"
    assert order.account == "acme-eu"
    assert order.customer_email == "x7k2mq8v@marketplace.example"
    assert order.customer_name == "Grace Hopper"
    assert order.phone is None
    assert order.region == "EU"
    assert order.postal_code == "10115"
    assert order.address["lines"] == ["Hauptstraße 5", "3. OG"]
    assert order.address["country"] == "DE"
    # item B's price excludes tax: 25.20 + 4.79; the stated total wins for the value
    assert order.lines == (
        IntakeLine("MP-INTAKE-A", 2, 3999),
        IntakeLine("MP-INTAKE-B", 1, 2999),
    )
    assert order.currency == "EUR"
    assert order.declared_total_minor == 10997
    assert order.ship_by == datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC)
    assert ADAPTERS["MARKETPLACE"].maps_skus


def test_a_native_order_is_read_as_place_orders_input() -> None:
    order = ADAPTERS["NATIVE"].read(json.loads(fixture("native_order.json")))
    assert isinstance(order, IntakeOrder)
    assert order.external_id == "WEB-100042"
    assert order.phone == "+44 20 7946 0000"
    assert order.address["phone"] == order.phone
    assert order.lines[1] == IntakeLine(
        "NATIVE-INTAKE-B", 3, None, accept_backorder=True, accept_preorder=False
    )
    assert order.address["lines"] == ["12 St James's Square"]
    assert not ADAPTERS["NATIVE"].maps_skus


def test_a_till_batch_is_split_into_receipts_and_rows_that_belong_to_none() -> None:
    split = split_batch(fixture("till_batch.csv"), "text/csv", 100)
    assert not isinstance(split, Refusal)
    receipts, bad = split
    assert [r.external_id for r in receipts] == [
        "S01-20261201-0041",
        "S01-20261201-0042",
        "S01-20261201-0043",
        "S01-20261201-0044",
    ]
    assert receipts[0].row_numbers == (1, 2)
    assert [b.row_number for b in bad] == [5]
    first = ADAPTERS["TILL"].read(receipts[0].document)
    assert isinstance(first, IntakeOrder)
    assert first.account == "S01"
    assert first.customer_email is None
    assert first.lines == (
        IntakeLine("TILL-INTAKE-A", 1, 1999),
        IntakeLine("TILL-INTAKE-B", 2, 450),
    )
    assert first.declared_total_minor == 1999 + 900
    # a receipt stored as its raw rows reads the same again
    assert receipt_from_raw(receipts[0].raw) == receipts[0].document
    wrong = ADAPTERS["TILL"].read(receipts[2].document)
    assert isinstance(wrong, list)
    assert wrong[0].field == "rows[0].quantity"
    assert wrong[0].code is RefusalCode.INVALID_FIELD


def test_a_json_lines_batch_reports_an_undecodable_line_by_its_number() -> None:
    split = split_batch(fixture("till_batch.jsonl"), "application/x-ndjson", 100)
    assert not isinstance(split, Refusal)
    receipts, bad = split
    assert [(r.external_id, r.row_numbers) for r in receipts] == [
        ("S02-20261201-0007", (1, 2)),
        ("S02-20261201-0008", (4,)),
    ]
    assert [(b.row_number, b.refusal.code) for b in bad] == [(3, RefusalCode.MALFORMED)]
    assert receipt_from_raw(receipts[0].raw) == receipts[0].document


def test_a_csv_without_its_header_is_refused_whole() -> None:
    refused = split_batch("S01-1,S01,,X,1,1.00,EUR,,\n", "text/csv", 100)
    assert isinstance(refused, Refusal)
    assert refused.code is RefusalCode.MALFORMED


def test_every_problem_of_a_payload_is_reported_with_where_it_is() -> None:
    refused = ADAPTERS["MARKETPLACE"].read(
        {"order_id": "1", "buyer": {}, "items": [{"seller_sku": "A\x00", "quantity_ordered": 0}]}
    )
    assert isinstance(refused, list)
    fields = {(r.field, r.code) for r in refused}
    assert ("shipping_address", RefusalCode.MISSING_FIELD) in fields
    assert ("items[0].seller_sku", RefusalCode.INVALID_FIELD) in fields
    assert ("items[0].quantity_ordered", RefusalCode.INVALID_FIELD) in fields
    native = ADAPTERS["NATIVE"].read([1, 2])
    assert isinstance(native, list)
    assert native[0] == Refusal(None, RefusalCode.MALFORMED, "Expected a JSON object.")


def test_account_rules_override_the_channels_rule_by_rule() -> None:
    rules = merged({"requirePhone": True, "allowPreorder": False}, {"requirePhone": False})
    assert rules.require_phone is False
    assert rules.allow_preorder is False
    assert rules.enforce_customer_limits is True


def test_rules_refuse_what_they_require_and_supply_what_they_allow() -> None:
    order = IntakeOrder("R-1", (IntakeLine("A", 1),), customer_name="Walk-in")
    strict = merged({"requirePhone": True})
    assert {r.field for r in check(apply(order, strict), strict)} == {
        "customer.email",
        "customer.phone",
    }
    till = merged(
        {"fallbackEmail": "shop@example.com", "defaultRegion": "EU", "allowPreorder": False}
    )
    filled = apply(order, till)
    assert check(filled, till) == []
    assert filled.customer_email == "shop@example.com"
    assert filled.region == "EU"
    assert filled.lines[0].accept_preorder is False
    assert filled.lines[0].accept_backorder is True


def test_unknown_or_mistyped_rules_are_named() -> None:
    problems = dict(rule_problems({"requirePhone": "yes", "maxLines": 0, "colour": "red"}))
    assert set(problems) == {"requirePhone", "maxLines", "colour"}
    assert rule_problems({"requirePhone": True, "defaultRegion": "EU"}) == []


def test_a_signature_is_valid_with_either_secret_of_a_rotation_and_only_in_time() -> None:
    body = b'{"order_id": "1"}'
    now = 1_800_000_000
    header = sign("old", now - 10, body)
    assert verify(header, body, ["new", "old"], now, 300) is None
    assert verify(header, body, ["new"], now, 300) is SignatureProblem.MISMATCH
    assert verify(header, body + b" ", ["old"], now, 300) is SignatureProblem.MISMATCH
    assert verify(sign("old", now - 301, body), body, ["old"], now, 300) is SignatureProblem.STALE
    assert verify(None, body, ["old"], now, 300) is SignatureProblem.MISSING
    assert verify("t=abc,v1=00", body, ["old"], now, 300) is SignatureProblem.MALFORMED


def test_impact_grows_with_value_units_and_a_near_or_missed_deadline() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    far = now + timedelta(days=10)
    assert impact_score(10000, 2, 1, far, now) == 110.0
    assert impact_score(10000, 2, 1, now + timedelta(hours=12), now) == 220.0
    assert impact_score(10000, 2, 1, now - timedelta(hours=1), now) == 330.0
    assert impact_score(10000, 2, 5, far, now) > impact_score(10000, 2, 1, far, now)
    assert impact_score(None, 2, None, None, now) == 0.0
