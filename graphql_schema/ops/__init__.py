"""The ops dashboard's read models: KPIs with their targets and the demand forecasts."""
