"""HTTP edge: Starlette app factory, health, metrics, pages."""
