"""Inventory queries: ``productAvailability`` (the PDP call) and ``pools``."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.domain.availability import PoolKind
from app.services import inventory
from graphql_schema.auth import require_internal
from graphql_schema.context import Context
from graphql_schema.inventory.resolve import availability_for
from graphql_schema.inventory.types import Availability, InventoryPool, pools_of
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_int_cursor,
    make_connection,
)


@strawberry.type
class InventoryQueries:
    @strawberry.field(
        description="Which button a PDP shows, the message, the date and how a quantity "
        "splits. A bad argument (unknown SKU, channel, region or carrier service; a quantity "
        "out of range) is this field's error, with `extensions.code` and `extensions.field`."
    )
    async def product_availability(
        self,
        info: Info[Context, Any],
        sku: str,
        quantity: int = 1,
        channel: str | None = None,
        region: str | None = None,
        carrier_service: Annotated[
            str | None,
            strawberry.argument(description="A carrier service of the region (default: its own)."),
        ] = None,
    ) -> Availability | None:
        return await availability_for(info.context, sku, quantity, channel, region, carrier_service)

    @strawberry.field(description="Inventory pools (ops and channel keys), oldest first.")
    async def pools(
        self,
        info: Info[Context, Any],
        sku: str | None = None,
        kind: PoolKind | None = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[InventoryPool]:
        await require_internal(info)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        after_id = decode_int_cursor("pool", after)
        refs = await inventory.pool_page(services, sku, kind, size + 1, after_id)
        today = services.today()
        records = await info.context.loaders.record_by_sku.load_many(sorted({r.sku for r in refs}))
        by_sku = {rec.snapshot.sku: rec for rec in records if rec is not None}
        nodes: list[InventoryPool] = []
        for ref in refs:
            record = by_sku.get(ref.sku)
            if record is None:
                continue
            for view in pools_of(record, today, ref.kind):
                if view.channel == ref.channel:
                    nodes.append(replace(view, _pool_id=ref.id))

        async def count() -> int:
            return await inventory.count_pools(services, sku, kind)

        return make_connection(
            nodes,
            size,
            key=lambda view: str(view._pool_id),
            kind="pool",
            has_previous=after_id is not None,
            count=count,
        )
