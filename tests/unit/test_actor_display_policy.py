"""Who sees which API key made a change (``policy.actor_shown_to``)."""

from __future__ import annotations

from app.services.policy import actor_shown_to
from app.services.results import Actor

SHOP = Actor("key:aaaaaaaaaaaa:shop", frozenset({"storefront"}))
OPS = Actor("key:bbbbbbbbbbbb:admin", frozenset({"ops"}))
WEBSTORE = Actor("key:cccccccccccc:web", frozenset({"channel:webstore"}))
MARKET = Actor("key:dddddddddddd:market", frozenset({"channel:marketplace"}))


def test_ops_and_the_orders_channel_see_the_key_that_acted() -> None:
    for viewer in (OPS, WEBSTORE):
        assert actor_shown_to(viewer, SHOP.name, "webstore") == SHOP.name


def test_a_customer_or_another_caller_sees_store_instead_of_a_key() -> None:
    for viewer in (None, MARKET, Actor("key:eeeeeeeeeeee:other-shop", frozenset({"storefront"}))):
        assert actor_shown_to(viewer, OPS.name, "webstore") == "store"


def test_a_caller_sees_its_own_key() -> None:
    assert actor_shown_to(SHOP, SHOP.name, "webstore") == SHOP.name
    assert actor_shown_to(SHOP, OPS.name, "webstore") == "store"


def test_system_and_customer_are_shown_to_everyone() -> None:
    for recorded in ("system", "customer"):
        assert actor_shown_to(None, recorded, "webstore") == recorded


def test_events_outside_orders_show_keys_to_integrations_only() -> None:
    assert actor_shown_to(MARKET, OPS.name, None) == OPS.name
    assert actor_shown_to(SHOP, OPS.name, None) == "store"
