"""Prometheus metrics: HTTP and GraphQL requests (by path: compiled or executor), placement
outcomes, database pools (size, in use, waits), live subscriptions, the e-mail relay. Every
label takes values from a fixed set (operation names of trusted documents and of the schema's
own operations, codes and reasons named in code), never from raw input.

Several worker processes (``OMS_WORKERS`` > 1): ``serve`` points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh folder before the workers start; each writes its samples there and any worker's
``/metrics`` adds them up (prometheus-client's multiprocess mode), so a scrape sees the whole
replica. Pool gauges are read live from the answering worker only and carry its ``pid``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import asyncpg
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_REQUESTS = Counter(
    "oms_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "oms_http_request_duration_seconds", "HTTP request latency by route.", ["method", "route"]
)
GRAPHQL_REQUESTS = Counter(
    "oms_graphql_operations_total",
    "GraphQL operations by operation name, type, outcome and path (compiled: a trusted "
    "document answered without the executor; executor).",
    ["operation", "type", "outcome", "path"],
)
GRAPHQL_LATENCY = Histogram(
    "oms_graphql_operation_duration_seconds",
    "GraphQL operation latency by operation name and path.",
    ["operation", "type", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PLACEMENTS = Counter(
    "oms_placements_total",
    "placeOrder outcomes: placed, replayed (an idempotency key seen before), or the refusal's "
    "code (SOLD_OUT after every retry, PAYMENT_DECLINED, LIMIT_EXCEEDED, ...).",
    ["outcome"],
)
PLACEMENT_RETRIES = Counter(
    "oms_placement_retries_total",
    "Placement attempts planned again after losing a race for stock (or a deadlock).",
)
POOL_WAIT = Histogram(
    "oms_db_pool_wait_seconds",
    "Time to get a connection from a pool (read: reads outside a transaction; write: use "
    "cases' transactions).",
    ["pool"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


PDP_CACHE = Counter(
    "oms_pdp_cache_total", "Anonymous catalog-read response cache lookups.", ["result"]
)


LIVE_SUBSCRIPTIONS = Gauge(
    "oms_live_subscriptions",
    "Open GraphQL subscriptions on this replica, by kind.",
    ["kind"],
    multiprocess_mode="livesum",
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
    "oms_live_listener_up",
    "1 while the LISTEN connection is up, else 0 (with several workers: the lowest of them).",
    multiprocess_mode="livemin",
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
    multiprocess_mode="mostrecent",
)
# Channel intake: labelled by channel only for channels with a signing secret configured
# (an unknown channel is refused before anything is counted), so the series are bounded.
INTAKE_MESSAGES = Counter(
    "oms_intake_messages_total",
    "Intake payloads by channel and what became of them (received, accepted, rejected, "
    "retrying, dead, duplicate, conflict, unauthenticated).",
    ["channel", "outcome"],
)
INTAKE_LATENCY = Histogram(
    "oms_intake_seconds",
    "Time from a webhook's arrival to its answer, by channel.",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
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
    """Reads every live asyncpg pool at scrape time, by name (read, write) and process."""

    def __init__(self) -> None:
        self.pools: dict[str, asyncpg.Pool] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["pool", "pid"]
        size = GaugeMetricFamily("oms_db_pool_size", "Configured pool size.", labels=labels)
        checked_out = GaugeMetricFamily(
            "oms_db_pool_checked_out", "Connections in use.", labels=labels
        )
        idle = GaugeMetricFamily("oms_db_pool_idle", "Idle pooled connections.", labels=labels)
        pid = str(os.getpid())
        for name, pool in self.pools.items():
            size.add_metric([name, pid], float(pool.get_max_size()))
            checked_out.add_metric([name, pid], float(pool.get_size() - pool.get_idle_size()))
            idle.add_metric([name, pid], float(pool.get_idle_size()))
        yield from (size, checked_out, idle)


POOLS = PoolCollector()
REGISTRY.register(POOLS)


def exposition() -> tuple[bytes, str]:
    """What ``/metrics`` answers: this process's registry, or, with several workers, every
    worker's samples added up (plus this worker's live pool gauges)."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(POOLS)
    return generate_latest(registry), CONTENT_TYPE_LATEST
