"""Prometheus metrics: HTTP and GraphQL requests, database pool usage."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from prometheus_client import Counter, Histogram
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

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


class PoolCollector(Collector):
    """Reads the SQLAlchemy pool of every live engine at scrape time."""

    def __init__(self) -> None:
        self.engines: dict[str, AsyncEngine] = {}
        self.read_pools: dict[str, asyncpg.Pool] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("oms_db_pool_size", "Configured pool size.", labels=["engine"])
        checked_out = GaugeMetricFamily(
            "oms_db_pool_checked_out", "Connections in use.", labels=["engine"]
        )
        idle = GaugeMetricFamily("oms_db_pool_idle", "Idle pooled connections.", labels=["engine"])
        overflow = GaugeMetricFamily(
            "oms_db_pool_overflow", "Connections beyond the pool size.", labels=["engine"]
        )
        for name, engine in self.engines.items():
            pool = engine.sync_engine.pool
            size.add_metric([name], float(getattr(pool, "size", lambda: 0)()))
            checked_out.add_metric([name], float(getattr(pool, "checkedout", lambda: 0)()))
            idle.add_metric([name], float(getattr(pool, "checkedin", lambda: 0)()))
            overflow.add_metric([name], float(max(0, getattr(pool, "overflow", lambda: 0)())))
        for name, pool in self.read_pools.items():
            label = [f"{name}-read"]
            size.add_metric(label, float(pool.get_max_size()))
            checked_out.add_metric(label, float(pool.get_size() - pool.get_idle_size()))
            idle.add_metric(label, float(pool.get_idle_size()))
            overflow.add_metric(label, 0.0)
        yield from (size, checked_out, idle, overflow)


POOLS = PoolCollector()
REGISTRY.register(POOLS)
