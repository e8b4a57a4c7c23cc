"""Ops dashboard queries (ops only): KPIs and the cached demand forecasts."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import ops_dashboard
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.ops.types import DemandForecast, OpsKpis

MAX_WINDOW_DAYS = 366


@strawberry.type
class OpsQueries:
    @strawberry.field(
        description="The ops dashboard's KPIs with their targets (ops): pre-order share, "
        "promise accuracy, order confirmation latency p50/p99, SLA breaches, sell-through per "
        "pre-order cap."
    )
    async def ops_kpis(self, info: Info[Context, Any], window_days: int = 30) -> OpsKpis:
        await require_ops(info)
        if not 1 <= window_days <= MAX_WINDOW_DAYS:
            raise PublicError(
                f"windowDays must be 1 to {MAX_WINDOW_DAYS}.", "BAD_USER_INPUT", ["windowDays"]
            )
        return OpsKpis.of(await ops_dashboard.kpis(info.context.services, window_days))

    @strawberry.field(
        description="Daily orders by state and the forecast of the next weeks per SKU, against "
        "its cap and open supply (ops); flagged SKUs first. Refreshed by the FORECAST_DEMAND "
        "job (runScheduledJob runs it at once)."
    )
    async def demand_forecasts(
        self, info: Info[Context, Any], sku: str | None = None, flagged_only: bool = False
    ) -> list[DemandForecast]:
        await require_ops(info)
        rows = await ops_dashboard.forecasts(info.context.services, sku, flagged_only)
        return [DemandForecast.of(r) for r in rows]
