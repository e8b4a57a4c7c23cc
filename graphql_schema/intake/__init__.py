"""The channel intake as ops see it: failed payloads ranked by impact, retry, replay,
discard, channel configuration, SKU maps and per-channel health."""
