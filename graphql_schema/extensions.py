"""Schema extensions: per-operation metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.metrics import GRAPHQL_LATENCY, GRAPHQL_REQUESTS


class OperationMetrics(SchemaExtension):
    """Counts operations and their latency by operation name and type."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        name = ctx.operation_name or "anonymous"
        try:
            op_type = ctx.operation_type.value
        except Exception:  # the document did not parse: no operation type
            op_type = "invalid"
        result = ctx.result
        outcome = "error" if result is not None and getattr(result, "errors", None) else "ok"
        GRAPHQL_REQUESTS.labels(name, op_type, outcome).inc()
        GRAPHQL_LATENCY.labels(name, op_type).observe(time.perf_counter() - started)
