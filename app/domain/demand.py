"""Demand per SKU: the forecast of the next weeks from its daily orders, and whether that
forecast outruns what can still be sold (the pre-order cap) or what is coming (open supply).

Pure: numbers in, numbers out. The statistics are statsmodels' exponential smoothing (Holt's
damped trend once there is enough history, simple smoothing before that); nothing here is
hand-written statistics, only the choice of model and the comparison with cap and supply.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

HISTORY_DAYS = 56
"""Days of daily orders the forecast learns from (and the dashboard charts)."""

HORIZON_DAYS = 28
"""Days the forecast looks ahead: the next four weeks."""

TREND_MIN_DAYS = 14
"""Fewer days with orders than this: no trend is fitted (it would follow noise)."""


class DemandFlag(StrEnum):
    OVER_CAP = "OVER_CAP"
    """The forecast sells more than the pre-order cap still allows: raise the PO (and cap)?"""
    OVER_SUPPLY = "OVER_SUPPLY"
    """Waiting demand plus the forecast exceed the open supply: raise the PO?"""


@dataclass(frozen=True, slots=True)
class Forecast:
    method: str
    daily: tuple[float, ...]

    @property
    def units(self) -> int:
        return math.ceil(round(sum(self.daily), 6))


@dataclass(frozen=True, slots=True)
class SupplyPosition:
    """What the forecast is compared with: the pre-order cap (None: no capped pre-order) and
    the units still under it, the units of open supply, the units already waiting for it."""

    cap: int | None
    cap_remaining: int | None
    open_supply: int
    waiting_units: int
    queues_for_supply: bool
    """The SKU sells against future supply (pre-order or backorder open, or demand waiting)."""


def forecast_daily(history: Sequence[float], horizon: int = HORIZON_DAYS) -> Forecast:
    """The next ``horizon`` days of demand from the daily history (oldest first)."""
    values = [float(v) for v in history]
    first = next((i for i, v in enumerate(values) if v), None)
    if first is None:
        return Forecast("none", (0.0,) * horizon)
    # the history starts with the SKU's first order: days before it are not demand of zero
    series = values[first:]
    if len(series) < 2:
        return Forecast("naive", (series[-1],) * horizon)
    # statsmodels is imported here: the domain's other rules never pay for loading it
    from statsmodels.tsa.holtwinters import (  # type: ignore[import-untyped]
        ExponentialSmoothing,
        SimpleExpSmoothing,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short or flat series
        if len(series) >= TREND_MIN_DAYS:
            model = ExponentialSmoothing(
                series, trend="add", damped_trend=True, initialization_method="estimated"
            )
            method = "holt-damped"
        else:
            model = SimpleExpSmoothing(series, initialization_method="estimated")
            method = "simple-exp-smoothing"
        predicted = [float(v) for v in model.fit().forecast(horizon)]
    if not all(math.isfinite(v) for v in predicted):
        return Forecast("naive", (sum(series) / len(series),) * horizon)
    return Forecast(method, tuple(round(max(v, 0.0), 3) for v in predicted))


def demand_flag(forecast: Forecast, position: SupplyPosition) -> DemandFlag | None:
    """OVER_CAP when a capped pre-order's forecast exceeds what the cap still allows;
    OVER_SUPPLY when a SKU selling against supply would need more than is on order."""
    if position.cap_remaining is not None and forecast.units > position.cap_remaining:
        return DemandFlag.OVER_CAP
    if position.queues_for_supply and (
        position.waiting_units + forecast.units > position.open_supply
    ):
        return DemandFlag.OVER_SUPPLY
    return None
