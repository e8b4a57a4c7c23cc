"""The demand forecast (statsmodels exponential smoothing) and the flags that compare it with
the pre-order cap and open supply."""

from __future__ import annotations

from app.domain.demand import (
    HORIZON_DAYS,
    DemandFlag,
    Forecast,
    SupplyPosition,
    demand_flag,
    forecast_daily,
)


def position(**overrides: object) -> SupplyPosition:
    values: dict[str, object] = {
        "cap": None,
        "cap_remaining": None,
        "open_supply": 0,
        "waiting_units": 0,
        "queues_for_supply": False,
    }
    return SupplyPosition(**(values | overrides))  # type: ignore[arg-type]


def test_a_sku_without_orders_is_forecast_to_sell_nothing() -> None:
    forecast = forecast_daily([0] * 56)
    assert forecast.units == 0
    assert len(forecast.daily) == HORIZON_DAYS


def test_a_steady_unit_a_day_is_forecast_at_about_a_unit_a_day() -> None:
    forecast = forecast_daily([0] * 40 + [1] * 16)
    assert forecast.method == "holt-damped"
    assert 26 <= forecast.units <= 30


def test_a_short_history_uses_simple_smoothing_without_a_trend() -> None:
    forecast = forecast_daily([0] * 50 + [2, 3, 2, 3, 2, 3])
    assert forecast.method == "simple-exp-smoothing"
    assert 56 <= forecast.units <= 84


def test_days_before_the_first_order_do_not_count_as_days_without_demand() -> None:
    late_starter = forecast_daily([0] * 46 + [1] * 10)
    assert late_starter.units >= 26


def test_a_growing_demand_is_forecast_above_its_last_weeks_average() -> None:
    history = [0] * 28 + [i // 3 for i in range(28)]
    forecast = forecast_daily(history)
    assert forecast.units > sum(history[-28:])


def test_a_forecast_is_never_negative() -> None:
    forecast = forecast_daily([0] * 30 + [30 - i for i in range(26)])
    assert min(forecast.daily) >= 0


def test_a_forecast_over_what_the_cap_still_allows_is_flagged_over_cap() -> None:
    forecast = Forecast("test", (1.0,) * 28)
    assert demand_flag(forecast, position(cap=12, cap_remaining=2)) is DemandFlag.OVER_CAP
    assert demand_flag(forecast, position(cap=100, cap_remaining=40)) is None


def test_waiting_demand_and_the_forecast_over_open_supply_is_flagged_over_supply() -> None:
    forecast = Forecast("test", (0.5,) * 28)  # 14 units
    short = position(open_supply=20, waiting_units=8, queues_for_supply=True)
    enough = position(open_supply=30, waiting_units=8, queues_for_supply=True)
    assert demand_flag(forecast, short) is DemandFlag.OVER_SUPPLY
    assert demand_flag(forecast, enough) is None


def test_a_sku_sold_from_stock_is_never_flagged_for_supply() -> None:
    forecast = Forecast("test", (3.0,) * 28)
    assert demand_flag(forecast, position(open_supply=0, queues_for_supply=False)) is None
