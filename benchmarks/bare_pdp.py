"""The baseline: a bare Starlette + asyncpg endpoint doing the same PDP lookup.

Same SQL snapshot statement, same domain computation, same JSON fields as
``productAvailability``; no GraphQL, no ORM, no middleware, no auth, regions read once.
Run: ``python -m benchmarks.bare_pdp <database-url> <port>``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.services.availability import RegionTransit, answer
from app.storage.database import to_asyncpg_dsn
from app.storage.inventory import SNAPSHOT_SQL, record_from_row

SQL = SNAPSHOT_SQL.replace(":skus", "$1")


def build(url: str) -> Starlette:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(to_asyncpg_dsn(url), min_size=10, max_size=10)
        rows = await state["pool"].fetch("SELECT * FROM regions WHERE is_default")
        state["region"] = RegionTransit(
            rows[0]["code"], rows[0]["transit_min_days"], rows[0]["transit_max_days"]
        )
        yield
        await state["pool"].close()

    async def pdp(request: Request) -> Response:
        body = orjson.loads(await request.body())
        sku, quantity = body["sku"], body["quantity"]
        async with state["pool"].acquire() as conn:
            rows = await conn.fetch(SQL, [sku])
        record = record_from_row(rows[0])
        today = datetime.now(UTC).date()
        a = answer(record, quantity, today, None, state["region"], 1)
        res = a.resolution
        window = a.delivery.window
        payload = {
            "data": {
                "productAvailability": {
                    "state": res.state.value,
                    "buttonLabel": res.button_label,
                    "message": a.message,
                    "availableQuantity": res.available_quantity,
                    "capRemaining": res.cap_remaining,
                    "deliveryEstimate": {
                        "earliest": window.earliest.isoformat() if window else None,
                        "latest": window.latest.isoformat() if window else None,
                    },
                    "paymentTerms": {
                        "kind": a.payment.terms.value,
                        "depositPercent": a.payment.deposit_percent,
                    }
                    if a.payment
                    else None,
                    "split": [{"state": p.state.value, "quantity": p.quantity} for p in res.split],
                }
            }
        }
        return Response(orjson.dumps(payload), media_type="application/json")

    return Starlette(routes=[Route("/pdp", pdp, methods=["POST"])], lifespan=lifespan)


class _Row:
    """Attribute access over an asyncpg Record, as SQLAlchemy rows give it."""

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


if __name__ == "__main__":
    database_url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(build(database_url), host="127.0.0.1", port=port, log_level="warning")
