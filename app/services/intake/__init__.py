"""Channel intake: one governed door for every channel's orders (``docs/intake.md``).

``receive`` answers a channel's webhook or till batch: signature, raw storage, then one
attempt at once. ``process`` is that attempt, shared with the retry job: adapter, rules, SKU
map, then the same ``place_order`` as ``placeOrder`` (same idempotency, same no-oversell),
and the outcome recorded with its event. ``admin`` is what ops do with the rest: the dead
letters ranked by impact, retry, replay, discard, configuration and health."""
