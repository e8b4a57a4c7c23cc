"""The rules every input passes before a use case starts: text PostgreSQL can store, JSON it can
store, dates within the planning horizon, e-mail addresses that are addresses, and what one
order may take on a channel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.domain.contact import normalise_email
from app.domain.dates import HORIZON_DAYS, date_problem, timestamp_problem
from app.domain.placement import UnitLimits, amount_refusals, limit_refusals
from app.domain.text import (
    INT64_MAX,
    MAX_JSON_DEPTH,
    UNSTORABLE,
    clean_text,
    json_problem,
    lookup_key,
    required_text,
    storable,
    text_problem,
)

TODAY = date(2026, 6, 1)

# ---------------------------------------------------------------- text


@pytest.mark.parametrize(
    "value",
    ["A\x00B", "\ud800", "tail\udfff", "\udc00\ud800"],
    ids=["nul", "lone high surrogate", "lone low surrogate", "reversed pair"],
)
def test_text_with_a_nul_or_a_lone_surrogate_cannot_be_stored(value: str) -> None:
    assert not storable(value)
    assert text_problem(value) == UNSTORABLE
    assert not clean_text(value)
    assert not required_text(value)
    assert not lookup_key(value)


def test_other_unicode_and_whole_surrogate_pairs_can_be_stored() -> None:
    for value in ("Ada Lovelace", "Zoë", "東京", "😀", "\ufffe", "<script>alert(1)</script>"):
        assert storable(value), value
        assert text_problem(value) is None


def test_a_one_line_value_refuses_line_breaks_and_control_characters() -> None:
    for value in ("Ada\r\nBcc: eve@example.com", "a\nb", "tab\there", "bell\x07", "nel\x85"):
        assert text_problem(value, one_line=True) is not None, repr(value)
        assert text_problem(value) is None  # free text may hold them
    assert text_problem("Ada Lovelace", one_line=True) is None


def test_required_text_refuses_absent_and_blank_values_and_length_counts() -> None:
    assert text_problem(None) is None
    assert text_problem(None, required=True) is not None
    assert text_problem("   ", required=True) is not None
    assert text_problem("x" * 64, 64) is None
    assert text_problem("x" * 65, 64) == "At most 64 characters."


def test_a_look_up_key_is_any_storable_text_within_its_limit() -> None:
    assert lookup_key("SKU-1")
    assert lookup_key("")  # empty names nothing, but asking is harmless
    assert not lookup_key(None)
    assert not lookup_key("x" * 65, 64)


# ---------------------------------------------------------------- JSON


def test_json_options_with_storable_text_and_64_bit_numbers_are_accepted() -> None:
    assert json_problem({"size": "M", "n": INT64_MAX, "f": 1.5, "ok": True, "x": None}) is None
    assert json_problem({"dims": {"w": [1, 2, {"deep": "yes"}]}}) is None


@pytest.mark.parametrize(
    "value",
    [
        {"a": "x\x00"},
        {"a\x00": 1},
        {"a": ["ok", "\ud800"]},
        {"n": INT64_MAX + 1},
        {"n": -(2**63) - 1},
        {"f": float("nan")},
        {"f": float("inf")},
        {"s": {1, 2}},
    ],
    ids=["nul value", "nul key", "surrogate in list", "int64+1", "int64-1", "nan", "inf", "set"],
)
def test_json_that_jsonb_cannot_store_is_refused(value: object) -> None:
    assert json_problem(value) is not None


def test_json_nesting_and_total_text_are_bounded() -> None:
    deep: object = "leaf"
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = [deep]
    assert json_problem(deep) is not None
    assert json_problem({"a": "x" * 60, "b": "y" * 60}, limit=100) is not None
    assert json_problem({"a": "x" * 40, "b": "y" * 40}, limit=100) is None


# ---------------------------------------------------------------- dates


def test_a_date_within_the_horizon_either_side_of_today_is_accepted() -> None:
    for value in (TODAY, TODAY - timedelta(days=HORIZON_DAYS), TODAY + timedelta(HORIZON_DAYS)):
        assert date_problem(value, TODAY) is None


@pytest.mark.parametrize(
    "value",
    [date.max, date.min, date(9999, 12, 31), date(1, 1, 1), TODAY + timedelta(HORIZON_DAYS + 1)],
    ids=["date.max", "date.min", "9999-12-31", "0001-01-01", "one day past the horizon"],
)
def test_a_date_outside_the_horizon_is_refused(value: date) -> None:
    problem = date_problem(value, TODAY, what="The release date")
    assert problem is not None
    assert problem.startswith("The release date must be within")


def test_past_and_future_rules_come_on_top_of_the_horizon() -> None:
    yesterday, tomorrow = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
    assert date_problem(yesterday, TODAY, past=False) == "The date is in the past."
    assert date_problem(TODAY, TODAY, past=False) is None
    assert date_problem(tomorrow, TODAY, future=False) == "The date cannot be in the future."
    assert date_problem(TODAY, TODAY, future=False) is None


def test_a_timestamp_filter_is_checked_by_its_date_whatever_its_offset() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert timestamp_problem(now, TODAY) is None
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp_problem(far, TODAY) is not None
    assert timestamp_problem(early, TODAY) is not None


# ---------------------------------------------------------------- e-mail addresses


def test_an_address_is_checked_and_lower_cased() -> None:
    assert normalise_email("  Ada@Example.COM ") == "ada@example.com"
    assert normalise_email("buyer@shop.example") == "buyer@shop.example"


@pytest.mark.parametrize(
    "value",
    [
        "ada.example.com",
        "ada@example.com\r\nBcc: eve@example.com",
        "<script>alert(1)</script>@example.com",
        "ada\x00@example.com",
        '"ada lovelace"@example.com',
        "ada@localhost",
        "ada@example.test",
        "a" * 321 + "@example.com",
        "",
    ],
    ids=[
        "no at",
        "crlf header",
        "markup",
        "nul",
        "quoted local part",
        "no domain dot",
        "special-use domain",
        "too long",
        "empty",
    ],
)
def test_what_is_not_an_address_is_refused(value: str) -> None:
    assert normalise_email(value) is None


# ---------------------------------------------------------------- what one order may take

LIMITS = UnitLimits(per_line=10, per_customer_sku=25)


def test_a_line_above_the_per_line_limit_is_refused_and_one_at_it_is_not() -> None:
    found = limit_refusals([("A", 10), ("B", 11)], {}, LIMITS)
    assert [r.index for r in found] == [1]
    assert "10 units per line" in found[0].message


def test_the_customer_limit_counts_open_units_and_this_orders_lines_of_the_sku() -> None:
    assert limit_refusals([("A", 5), ("A", 5)], {"A": 15}, LIMITS) == []
    found = limit_refusals([("A", 5), ("B", 10), ("A", 6)], {"A": 15}, LIMITS)
    assert [r.index for r in found] == [2]
    assert "15 already" in found[0].message


def test_the_customer_limit_is_reported_once_per_sku() -> None:
    found = limit_refusals([("A", 10), ("A", 10), ("A", 10), ("A", 10)], {}, LIMITS)
    assert [r.index for r in found] == [2]


def test_an_order_whose_total_would_pass_64_bits_is_refused_at_the_line_that_passes() -> None:
    assert amount_refusals([(1, INT64_MAX)], INT64_MAX) == []
    assert [r.index for r in amount_refusals([(2, INT64_MAX)], INT64_MAX)] == [0]
    halves = [(1, INT64_MAX // 2), (1, INT64_MAX // 2), (1, 2)]
    assert [r.index for r in amount_refusals(halves, INT64_MAX)] == [2]
