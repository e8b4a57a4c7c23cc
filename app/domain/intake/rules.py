"""Per-channel and per-account intake rules, so one global rule set does not refuse good
orders: a marketplace sends no phone, a B2B buyer exceeds per-customer limits, a till sells
to walk-in customers without an e-mail address, a channel takes no pre-orders.

Rules are JSON (``configureIntakeChannel``, ``setIntakeAccountRules``), camelCase keys as in
``RULES``; an account's rules override its channel's key by key. ``check`` refuses what the
rules forbid; ``apply`` fills what they supply (a fallback contact, a default region) and
turns pre-order and backorder eligibility into the placement's own line flags, so placement
refuses an ineligible line with its usual code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from app.domain.intake import IntakeOrder, Refusal, RefusalCode
from app.domain.text import MAX_CODE, MAX_TEXT, text_problem


@dataclass(frozen=True)
class IntakeRules:
    require_email: bool = True
    require_name: bool = True
    require_phone: bool = False
    require_postal_code: bool = False
    enforce_customer_limits: bool = True
    allow_preorder: bool = True
    allow_backorder: bool = True
    max_lines: int | None = None
    default_region: str | None = None
    fallback_email: str | None = None  # for an order without one (a till's walk-in sale)
    fallback_name: str | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


RULES: dict[str, str] = {_camel(f.name): f.name for f in fields(IntakeRules)}
"""JSON key → attribute."""
_BOOLS = {f.name for f in fields(IntakeRules) if f.type in ("bool", bool)}


def rule_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, why)`` for every key of ``data`` that is not a rule or has the wrong type."""
    problems: list[tuple[str, str]] = []
    for key, value in data.items():
        name = RULES.get(key)
        if name is None:
            known = ", ".join(sorted(RULES))
            problems.append((key, f"Unknown rule {key[:64]!r}; rules are: {known}."))
        elif value is None:
            continue
        elif name in _BOOLS:
            if not isinstance(value, bool):
                problems.append((key, "Must be true or false."))
        elif name == "max_lines":
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 200:
                problems.append((key, "Must be a whole number from 1 to 200."))
        elif not isinstance(value, str):
            problems.append((key, "Must be a string."))
        elif why := text_problem(
            value, MAX_CODE if name == "default_region" else MAX_TEXT, one_line=True
        ):
            problems.append((key, why))
    return problems


def merged(channel: Mapping[str, Any], account: Mapping[str, Any] | None = None) -> IntakeRules:
    """The rules in force: the defaults, the channel's, then the account's (valid keys only;
    what is stored was checked by ``rule_problems``)."""
    values: dict[str, Any] = {}
    for layer in (channel, account or {}):
        for key, value in layer.items():
            if key in RULES and value is not None:
                values[RULES[key]] = value
    return IntakeRules(**values)


def check(order: IntakeOrder, rules: IntakeRules) -> list[Refusal]:
    """What the rules refuse in ``order`` (after ``apply``)."""
    found: list[Refusal] = []

    def need(value: object, where: str, what: str) -> None:
        if value is None or (isinstance(value, str) and not value.strip()):
            found.append(Refusal(where, RefusalCode.RULE, f"This channel requires {what}."))

    if rules.require_email:
        need(order.customer_email, "customer.email", "the customer's e-mail address")
    if rules.require_name:
        need(order.customer_name, "customer.name", "the customer's name")
    if rules.require_phone:
        need(order.phone, "customer.phone", "a phone number")
    if rules.require_postal_code:
        need(order.postal_code, "shippingAddress.postalCode", "a postal code")
    if rules.max_lines is not None and len(order.lines) > rules.max_lines:
        found.append(
            Refusal(
                "lines",
                RefusalCode.RULE,
                f"This channel takes at most {rules.max_lines} lines per order.",
            )
        )
    return found


def apply(order: IntakeOrder, rules: IntakeRules) -> IntakeOrder:
    """``order`` with what the rules supply: the fallback contact where none was sent, the
    default region, and each line's pre-order and backorder eligibility."""
    lines = tuple(
        replace(
            line,
            accept_preorder=line.accept_preorder and rules.allow_preorder,
            accept_backorder=line.accept_backorder and rules.allow_backorder,
        )
        for line in order.lines
    )
    return replace(
        order,
        lines=lines,
        customer_email=order.customer_email or rules.fallback_email,
        customer_name=order.customer_name or rules.fallback_name,
        region=order.region or rules.default_region,
    )
