"""Prometheus metrics: HTTP and GraphQL requests, compiled trusted documents, database pool
usage. Every label takes values from a fixed set (operation names of trusted documents and of
the schema's own operations, reasons named in code), never from raw input."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "oms_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "oms_http_request_duration_seconds", "HTTP request latency by route.", ["method", "route"]
)
GRAPHQL_REQUESTS = Counter(
    "oms_graphql_operations_total",
    "GraphQL operations by operation name, type and outcome.",
    ["operation", "type", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "oms_graphql_operation_duration_seconds",
    "GraphQL operation latency by operation name.",
    ["operation", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


PDP_CACHE = Counter(
    "oms_pdp_cache_total", "Anonymous catalog-read response cache lookups.", ["result"]
)


LIVE_SUBSCRIPTIONS = Gauge(
    "oms_live_subscriptions", "Open GraphQL subscriptions on this replica, by kind.", ["kind"]
)
LIVE_DELIVERED = Counter(
    "oms_live_events_delivered_total", "Frames sent to subscribers, by kind.", ["kind"]
)
LIVE_DROPPED = Counter(
    "oms_live_subscribers_dropped_total",
    "Subscribers dropped for not keeping up (their queue was full), by kind.",
    ["kind"],
)
LIVE_LISTENER_UP = Gauge(
    "oms_live_listener_up", "1 while this replica's LISTEN connection is up, else 0."
)
LIVE_LAG = Histogram(
    "oms_live_lag_seconds",
    "From an event's commit (its row's time) to its hand-over to a subscriber.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MAIL_OUTCOMES = Counter(
    "oms_mail_messages_total",
    "Messages to customers by outcome of an attempt: sent, retrying, dead, suppressed "
    "(unsubscribed), unconfirmed (the relay died mid-send).",
    ["outcome"],
)
MAIL_BACKLOG = Gauge(
    "oms_mail_backlog",
    "Messages by status at the last relay round (PENDING, DEAD, UNCONFIRMED).",
    ["status"],
)
COMPILED_FALLBACKS = Counter(
    "oms_compiled_fallbacks_total",
    "Requests for a compiled trusted document that the GraphQL executor answered instead, "
    "by document and reason (variables, auth, handoff, plan).",
    ["document", "reason"],
)
UNCOMPILED_DOCUMENTS = Counter(
    "oms_uncompiled_documents_total",
    "Trusted documents the compiler could not compile at start-up (answered by the executor).",
    ["document"],
)


class PoolCollector(Collector):
    """Reads every live asyncpg pool at scrape time, by name (read, write)."""

    def __init__(self) -> None:
        self.pools: dict[str, asyncpg.Pool] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("oms_db_pool_size", "Configured pool size.", labels=["pool"])
        checked_out = GaugeMetricFamily(
            "oms_db_pool_checked_out", "Connections in use.", labels=["pool"]
        )
        idle = GaugeMetricFamily("oms_db_pool_idle", "Idle pooled connections.", labels=["pool"])
        for name, pool in self.pools.items():
            size.add_metric([name], float(pool.get_max_size()))
            checked_out.add_metric([name], float(pool.get_size() - pool.get_idle_size()))
            idle.add_metric([name], float(pool.get_idle_size()))
        yield from (size, checked_out, idle)


POOLS = PoolCollector()
REGISTRY.register(POOLS)
