"""Types of the ops dashboard: they display what ``app.services.ops_dashboard`` computed."""

from __future__ import annotations

import datetime

import strawberry

from app.domain.demand import DemandFlag
from app.services import ops_dashboard


@strawberry.type(description="Units committed against a pre-order cap.")
class SellThrough:
    sku: str
    cap: int
    committed: int
    percent: float = strawberry.field(description="committed / cap, in %.")

    @classmethod
    def of(cls, s: ops_dashboard.SellThrough) -> SellThrough:
        return cls(sku=s.sku, cap=s.cap, committed=s.committed, percent=s.percent)


@strawberry.type(
    description="The ops dashboard's KPIs over the last `windowDays` (by placement time), "
    "each with its target."
)
class OpsKpis:
    window_days: int
    units_sold: int = strawberry.field(description="Units on lines not cancelled.")
    preorder_units: int
    preorder_share_percent: float = strawberry.field(
        description="Pre-order units as % of the units sold (target: above 15 %)."
    )
    preorder_share_target_percent: float
    preorder_share_meets_target: bool
    promise_delivered_lines: int
    promise_deviation_percent: float = strawberry.field(
        description="Deviation of delivered lines from their FIRST promised window, as % of "
        "the promised wait, averaged (as promiseAccuracy; target: under 5 %)."
    )
    promise_target_percent: float
    promise_meets_target: bool
    confirmed_orders: int = strawberry.field(description="Orders with a confirmation time.")
    latency_p50_seconds: float | None = strawberry.field(
        description="Median order confirmation latency: from the start of placement to its "
        "order row written in the database (every replica's orders; target under 2 s)."
    )
    latency_p99_seconds: float | None
    latency_target_seconds: float
    latency_meets_target: bool
    sla_open_breached: int = strawberry.field(
        description="Open shipments past their dispatch deadline now."
    )
    sla_dispatched_late: int = strawberry.field(
        description="Shipments dispatched after their deadline in the window."
    )
    sla_breaches: int = strawberry.field(description="Both together (target: 0).")
    sell_through: list[SellThrough] = strawberry.field(
        description="Every capped pre-order, by SKU."
    )

    @classmethod
    def of(cls, k: ops_dashboard.Kpis) -> OpsKpis:
        return cls(
            window_days=k.window_days,
            units_sold=k.units_sold,
            preorder_units=k.preorder_units,
            preorder_share_percent=k.preorder_share_percent,
            preorder_share_target_percent=k.preorder_share_target_percent,
            preorder_share_meets_target=k.preorder_share_meets_target,
            promise_delivered_lines=k.promise_delivered_lines,
            promise_deviation_percent=k.promise_deviation_percent,
            promise_target_percent=k.promise_target_percent,
            promise_meets_target=k.promise_meets_target,
            confirmed_orders=k.confirmed_orders,
            latency_p50_seconds=k.latency_p50_seconds,
            latency_p99_seconds=k.latency_p99_seconds,
            latency_target_seconds=k.latency_target_seconds,
            latency_meets_target=k.latency_meets_target,
            sla_open_breached=k.sla_open_breached,
            sla_dispatched_late=k.sla_dispatched_late,
            sla_breaches=k.sla_breaches,
            sell_through=[SellThrough.of(s) for s in k.sell_through],
        )


strawberry.enum(DemandFlag, description="Why a SKU's forecast needs a look (raise the PO?).")


@strawberry.type(description="Units ordered on one day (store time zone), by line state.")
class DailyDemand:
    date: datetime.date
    ready: int
    pre_order: int
    backorder: int


@strawberry.type(
    description="A SKU's daily orders and the forecast of the next weeks (statsmodels "
    "exponential smoothing), against its pre-order cap and open supply. Computed by the "
    "FORECAST_DEMAND job, not per request."
)
class DemandForecast:
    sku: str
    computed_at: datetime.datetime
    method: str = strawberry.field(description="The model: holt-damped, simple-exp-smoothing…")
    history: list[DailyDemand]
    forecast_start: datetime.date = strawberry.field(description="The first forecast day.")
    forecast: list[float] = strawberry.field(description="Units per day from forecastStart.")
    forecast_units: int = strawberry.field(description="The forecast's total, rounded up.")
    waiting_units: int = strawberry.field(description="Units of lines waiting for supply.")
    cap: int | None = strawberry.field(description="The pre-order cap (null: none).")
    cap_remaining: int | None
    open_supply: int = strawberry.field(description="Units of open POs and production runs.")
    flag: DemandFlag | None = strawberry.field(
        description="OVER_CAP: the forecast exceeds what the cap still allows; OVER_SUPPLY: "
        "waiting demand plus the forecast exceed open supply (raise the PO?); null: fine."
    )

    @classmethod
    def of(cls, f: ops_dashboard.DemandForecast) -> DemandForecast:
        return cls(
            sku=f.sku,
            computed_at=f.computed_at,
            method=f.method,
            history=[
                DailyDemand(date=d.day, ready=d.ready, pre_order=d.pre_order, backorder=d.backorder)
                for d in f.history
            ],
            forecast_start=f.forecast_start,
            forecast=f.forecast,
            forecast_units=f.forecast_units,
            waiting_units=f.waiting_units,
            cap=f.cap,
            cap_remaining=f.cap_remaining,
            open_supply=f.open_supply,
            flag=DemandFlag(f.flag) if f.flag else None,
        )
