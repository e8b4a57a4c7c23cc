"""The one authorization policy: which keys may do what, and on which orders."""

from __future__ import annotations

import pytest

from app.services import policy
from app.services.results import Actor

OPS = Actor("ops", frozenset({"ops"}))
WEB = Actor("web", frozenset({"storefront"}))
MARKET = Actor("market", frozenset({"channel:marketplace"}))
TWO_CHANNELS = Actor("two", frozenset({"channel:marketplace", "channel:pos"}))


@pytest.mark.parametrize(
    ("actor", "administer", "internals", "place", "manage", "list_orders"),
    [
        (OPS, True, True, True, True, True),
        (MARKET, False, True, True, True, True),
        (TWO_CHANNELS, False, True, True, True, False),
        (WEB, False, False, True, False, False),
        (None, False, False, False, False, False),
    ],
)
def test_what_each_kind_of_key_may_do(
    actor: Actor | None,
    administer: bool,
    internals: bool,
    place: bool,
    manage: bool,
    list_orders: bool,
) -> None:
    assert policy.may_administer(actor) is administer
    assert policy.may_read_internals(actor) is internals
    assert policy.may_place_orders(actor) is place
    assert policy.may_manage_orders(actor) is manage
    assert policy.may_list_orders(actor) is list_orders


def test_a_channel_key_manages_only_its_own_channels_orders() -> None:
    assert policy.may_manage_order(MARKET, "marketplace")
    assert not policy.may_manage_order(MARKET, "webstore")
    assert policy.may_manage_order(OPS, "webstore")
    assert not policy.may_manage_order(WEB, "webstore")


def test_an_order_is_read_by_ops_its_channel_or_whoever_holds_its_token() -> None:
    assert policy.may_read_order(None, "webstore", token_matches=True)
    assert not policy.may_read_order(None, "webstore", token_matches=False)
    assert not policy.may_read_order(WEB, "webstore", token_matches=False)
    assert policy.may_read_order(MARKET, "marketplace", token_matches=False)


def test_a_storefront_places_only_on_webstore_channels() -> None:
    assert policy.may_place_on(WEB, "webstore", "WEBSTORE")
    assert not policy.may_place_on(WEB, "marketplace", "MARKETPLACE")
    assert policy.may_place_on(MARKET, "marketplace", "MARKETPLACE")
    assert not policy.may_place_on(MARKET, "pos", "POS")
    assert policy.may_place_on(OPS, "pos", "POS")


def test_only_integrations_may_claim_a_customer_and_its_priority() -> None:
    assert policy.trusts_customer_claims(OPS)
    assert policy.trusts_customer_claims(MARKET)
    assert not policy.trusts_customer_claims(WEB)


def test_a_one_channel_key_lists_only_its_channel() -> None:
    assert policy.order_list_channel(OPS) is None
    assert policy.order_list_channel(MARKET) == "marketplace"
