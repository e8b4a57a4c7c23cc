"""Who may do what: the one authorization policy, asked by the GraphQL layer (before a use
case runs) and by the use cases (once they hold the object).

Callers are API keys with scopes: ``ops`` (everything), ``channel:<code>`` (a channel
integration: its own orders, inventory internals), ``storefront`` (a webstore: places orders,
reads an order with its token). A customer without a key holds an order token.

The answer when the caller may not:

- ``UNAUTHENTICATED`` (a top-level error): no key where one is needed, or a bad key.
- ``FORBIDDEN`` (a top-level error): the caller's scopes can never do this operation, whatever
  the object (a storefront cancelling an order, a channel key creating a product). Decided
  before anything is looked up, so it tells nothing about any object.
- ``NOT_FOUND`` (a ``userError``, or null for a query): the caller may do this operation in
  general but not on this object: another channel's order, an order token that does not match.
  The answer is exactly the one for an object that does not exist, on purpose: a key never
  learns whether another channel's orders (and their customers) exist.
"""

from __future__ import annotations

from enum import StrEnum

from app.services.results import SYSTEM, Actor

OPS = "ops"
STOREFRONT = "storefront"
CHANNEL_PREFIX = "channel:"


class Denial(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"


def is_ops(actor: Actor | None) -> bool:
    return actor is not None and OPS in actor.scopes


def channels_of(actor: Actor) -> frozenset[str]:
    """The channels a key integrates (its ``channel:<code>`` scopes)."""
    return frozenset(s[len(CHANNEL_PREFIX) :] for s in actor.scopes if s.startswith(CHANNEL_PREFIX))


def is_integration(actor: Actor | None) -> bool:
    """Ops or a channel integration: trusted with inventory internals and customer claims."""
    return actor is not None and (is_ops(actor) or bool(channels_of(actor)))


# ---------------------------------------------------------------- operation level


def may_administer(actor: Actor | None) -> bool:
    """Catalog, stock, supply, reference data, scheduled jobs, customer priority."""
    return is_ops(actor)


def may_read_internals(actor: Actor | None) -> bool:
    """Pools, on-hand and committed counts, supply, available-to-promise, promise accuracy:
    never anonymous callers or storefronts (they would show competitors the sales)."""
    return is_integration(actor)


def may_place_orders(actor: Actor | None) -> bool:
    return actor is not None and (
        is_ops(actor) or STOREFRONT in actor.scopes or bool(channels_of(actor))
    )


def may_manage_orders(actor: Actor | None) -> bool:
    """Cancel, tag, pause, resume, dispatch, deliver: ops and channel integrations."""
    return is_integration(actor)


def may_list_orders(actor: Actor | None) -> bool:
    """Lists of orders: ops (all) or a key of exactly one channel (its own)."""
    return actor is not None and (is_ops(actor) or len(channels_of(actor)) == 1)


def order_list_channel(actor: Actor) -> str | None:
    """The one channel a non-ops key's lists are limited to (None: every channel)."""
    if is_ops(actor):
        return None
    (channel,) = channels_of(actor)
    return channel


# ---------------------------------------------------------------- object level


def may_place_on(actor: Actor, channel_code: str, channel_kind: str) -> bool:
    """Ops anywhere, a channel key on its channel, a storefront key on webstore channels."""
    if is_ops(actor) or channel_code in channels_of(actor):
        return True
    return STOREFRONT in actor.scopes and channel_kind == "WEBSTORE"


def may_manage_order(actor: Actor | None, order_channel: str) -> bool:
    return actor is not None and (is_ops(actor) or order_channel in channels_of(actor))


def may_read_order(actor: Actor | None, order_channel: str, token_matches: bool) -> bool:
    """Ops, the order's channel, or whoever holds the order's token."""
    return may_manage_order(actor, order_channel) or token_matches


def may_answer_delay(actor: Actor | None, order_channel: str, token_matches: bool) -> bool:
    """The customer (with the order's token) or whoever manages the order."""
    return may_read_order(actor, order_channel, token_matches)


# Actors whose recorded name tells nothing about anyone's credentials (``results.SYSTEM``, and
# ``queue.CUSTOMER``, the customer answering with an order token); every other recorded actor
# is an API key, ``key:<prefix>:<name>``.
NEUTRAL_ACTORS = frozenset({SYSTEM.name, "customer"})
STORE_ACTOR = "store"


def actor_shown_to(viewer: Actor | None, recorded: str, order_channel: str | None) -> str:
    """Who made a change, as ``viewer`` may see it. Ops, and the order's channel (for events
    outside orders: whoever may read internals), see the actor as recorded. Anyone else (a
    customer with the order's token, a storefront) sees its own changes as recorded and every
    API key's as ``store``: a key's prefix and name are nobody else's business."""
    if order_channel is None:
        trusted = is_integration(viewer)
    else:
        trusted = may_manage_order(viewer, order_channel)
    if trusted or recorded in NEUTRAL_ACTORS or (viewer is not None and viewer.name == recorded):
        return recorded
    return STORE_ACTOR


def trusts_customer_claims(actor: Actor) -> bool:
    """Whether the e-mail an order names may bring that customer's priority, and the name it
    gives replace the customer record's: a storefront cannot prove who typed the e-mail at
    checkout (its order keeps the contact it was given); channel integrations and ops can."""
    return is_integration(actor)


def bound_by_channel_limits(actor: Actor) -> bool:
    """Whether a channel's unit limits (per line, per customer and SKU) bind this caller's
    orders: storefronts and channel integrations are; ops, placing by hand, are not."""
    return not is_ops(actor)
