"""The ops dashboard's use cases: KPIs with their targets, and the demand forecasts (computed
by the FORECAST_DEMAND job off the request path, cached in ``demand_forecasts``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.domain.demand import (
    HISTORY_DAYS,
    HORIZON_DAYS,
    SupplyPosition,
    demand_flag,
    forecast_daily,
)
from app.services.container import Services
from app.services.orders import reads
from app.services.results import SYSTEM, Actor
from app.storage import ops as store

KPI_WINDOW_DAYS = 30
PREORDER_SHARE_TARGET_PERCENT = 15.0
"""Pre-orders should be more than this share of the units sold."""
LATENCY_TARGET_SECONDS = 2.0
"""An order should be confirmed within this (p50 and p99)."""
SLA_BREACH_TARGET = 0
FORECAST_EVERY = timedelta(minutes=15)
"""The scheduler refreshes the forecasts this often (daily data: more often changes little)."""


@dataclass(frozen=True, slots=True)
class SellThrough:
    sku: str
    cap: int
    committed: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.committed / self.cap, 1) if self.cap else 0.0


@dataclass(frozen=True, slots=True)
class Kpis:
    window_days: int
    units_sold: int
    preorder_units: int
    preorder_share_percent: float
    preorder_share_target_percent: float
    promise_delivered_lines: int
    promise_deviation_percent: float
    promise_target_percent: float
    promise_meets_target: bool
    confirmed_orders: int
    latency_p50_seconds: float | None
    latency_p99_seconds: float | None
    latency_target_seconds: float
    sla_open_breached: int
    sla_dispatched_late: int
    sell_through: list[SellThrough]

    @property
    def preorder_share_meets_target(self) -> bool:
        return self.preorder_share_percent > self.preorder_share_target_percent

    @property
    def latency_meets_target(self) -> bool:
        return self.latency_p99_seconds is None or (
            self.latency_p99_seconds < self.latency_target_seconds
        )

    @property
    def sla_breaches(self) -> int:
        return self.sla_open_breached + self.sla_dispatched_late


async def kpis(services: Services, window_days: int = KPI_WINDOW_DAYS) -> Kpis:
    """The dashboard's KPIs over the last ``window_days`` (the caller is ops: checked by the
    API layer through ``policy.may_administer``)."""
    until = services.clock()
    since = until - timedelta(days=window_days)
    async with services.read() as conn:
        sales = await store.sales_mix(conn, since, until)
        latency = await store.confirmation_latency(conn, since, until)
        sla = await store.sla_breaches(conn, since, until)
        caps = await store.sell_through(conn)
    accuracy = await reads.accuracy(services, None)
    units = int(sales["units"])
    preorder = int(sales["preorder_units"])
    return Kpis(
        window_days=window_days,
        units_sold=units,
        preorder_units=preorder,
        preorder_share_percent=round(100.0 * preorder / units, 1) if units else 0.0,
        preorder_share_target_percent=PREORDER_SHARE_TARGET_PERCENT,
        promise_delivered_lines=accuracy.delivered_lines,
        promise_deviation_percent=accuracy.average_deviation_percent,
        promise_target_percent=accuracy.target_percent,
        promise_meets_target=accuracy.meets_target,
        confirmed_orders=int(latency["orders"]),
        latency_p50_seconds=_seconds(latency["p50"]),
        latency_p99_seconds=_seconds(latency["p99"]),
        latency_target_seconds=LATENCY_TARGET_SECONDS,
        sla_open_breached=int(sla["open_breached"]),
        sla_dispatched_late=int(sla["dispatched_late"]),
        sell_through=[SellThrough(r["sku"], int(r["cap"]), int(r["committed"])) for r in caps],
    )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


@dataclass(frozen=True, slots=True)
class DailyDemand:
    day: date
    ready: int
    pre_order: int
    backorder: int


@dataclass(frozen=True, slots=True)
class DemandForecast:
    sku: str
    computed_at: Any
    method: str
    history: list[DailyDemand]
    forecast_start: date
    forecast: list[float]
    forecast_units: int
    waiting_units: int
    cap: int | None
    cap_remaining: int | None
    open_supply: int
    flag: str | None


async def forecasts(
    services: Services, sku: str | None = None, flagged_only: bool = False
) -> list[DemandForecast]:
    """The cached forecasts, flagged SKUs first (the caller is ops)."""
    async with services.read() as conn:
        rows = await store.list_forecasts(conn, sku, flagged_only)
    return [_forecast(r) for r in rows]


def _forecast(row: dict[str, Any]) -> DemandForecast:
    history = [
        DailyDemand(date.fromisoformat(d), int(r), int(p), int(b))
        for d, r, p, b in row["history"]["daily"]
    ]
    return DemandForecast(
        sku=row["sku"],
        computed_at=row["computed_at"],
        method=row["method"],
        history=history,
        forecast_start=date.fromisoformat(row["history"]["forecast_start"]),
        forecast=[float(v) for v in row["forecast"]],
        forecast_units=row["forecast_units"],
        waiting_units=row["waiting_units"],
        cap=row["cap"],
        cap_remaining=row["cap_remaining"],
        open_supply=row["open_supply"],
        flag=row["flag"],
    )


async def forecast_demand(services: Services, actor: Actor) -> dict[str, int]:
    """The FORECAST_DEMAND job: every SKU's daily orders over the last HISTORY_DAYS full days,
    forecast HORIZON_DAYS ahead, compared with its cap and open supply, written in one go.
    Today is left out of the history (a day half over would read as a drop in demand). The
    scheduler's own runs (actor SYSTEM) skip while the cache is younger than FORECAST_EVERY;
    an ops run (runScheduledJob) always computes."""
    if actor == SYSTEM:
        async with services.read() as conn:
            last = await store.last_forecast_at(conn)
        if last is not None and services.clock() - last < FORECAST_EVERY:
            return {}
    today = services.today()
    first_day = today - timedelta(days=HISTORY_DAYS)
    async with services.read() as conn:
        skus = await store.daily_demand(
            conn, first_day, today - timedelta(days=1), services.settings.store_timezone
        )
    # the model fits are CPU work: off the event loop, which keeps serving
    rows = await asyncio.to_thread(_forecast_rows, skus, today)
    async with services.uow() as uow:
        await store.replace_forecasts(uow.conn, services.clock(), rows)
        await uow.commit()
    return {"skus": len(rows), "flagged": sum(1 for r in rows if r["flag"])}


def _forecast_rows(skus: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    rows = []
    for sku in skus:
        daily = sku["daily"]
        forecast = forecast_daily([r + p + b for _, r, p, b in daily], HORIZON_DAYS)
        position = SupplyPosition(
            cap=sku["cap"],
            cap_remaining=sku["cap_remaining"],
            open_supply=sku["open_supply"],
            waiting_units=sku["waiting_units"],
            queues_for_supply=bool(sku["sells_ahead"]) or sku["waiting_units"] > 0,
        )
        flag = demand_flag(forecast, position)
        rows.append(
            {
                "product_id": sku["product_id"],
                "sku": sku["sku"],
                "method": forecast.method,
                "history_days": len(daily),
                "horizon_days": HORIZON_DAYS,
                "history": {"daily": daily, "forecast_start": today.isoformat()},
                "forecast": list(forecast.daily),
                "forecast_units": forecast.units,
                "waiting_units": position.waiting_units,
                "cap": position.cap,
                "cap_remaining": position.cap_remaining,
                "open_supply": position.open_supply,
                "flag": flag.value if flag else None,
            }
        )
    return rows
