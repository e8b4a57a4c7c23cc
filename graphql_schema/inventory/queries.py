"""Inventory queries: ``productAvailability`` (the PDP call) and ``pools``."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.domain.availability import PoolKind as DomainPoolKind
from app.services import inventory
from graphql_schema.auth import require_internal
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.inventory.resolve import availability_for
from graphql_schema.inventory.types import Availability, InventoryPool, PoolKind, pools_of
from graphql_schema.relay import (
    Connection,
    Edge,
    PageInfo,
    check_page_size,
    decode_cursor,
    encode_cursor,
)


@strawberry.type
class InventoryQueries:
    @strawberry.field(
        description="Which button a PDP shows, the message, the date and how a quantity splits."
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
    ) -> Availability:
        return await availability_for(info.context, sku, quantity, channel, region, carrier_service)

    @strawberry.field(description="Inventory pools, optionally for one SKU and of one kind.")
    async def pools(
        self,
        info: Info[Context, Any],
        sku: str | None = None,
        kind: PoolKind | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[InventoryPool]:
        await require_internal(info)
        size = check_page_size(first)
        raw_after = decode_cursor("pool", after)
        try:
            after_id = int(raw_after) if raw_after is not None else None
        except ValueError:
            raise PublicError("Invalid cursor.", "INVALID_CURSOR") from None
        refs = await inventory.pool_page(
            info.context.services,
            sku,
            DomainPoolKind(kind.value) if kind else None,
            size + 1,
            after_id,
        )
        today = info.context.services.today()
        records = await info.context.loaders.record_by_sku.load_many(sorted({r.sku for r in refs}))
        by_sku = {rec.snapshot.sku: rec for rec in records if rec is not None}
        nodes: list[tuple[int, InventoryPool]] = []
        for ref in refs:
            record = by_sku.get(ref.sku)
            if record is None:
                continue
            for view in pools_of(record, today, PoolKind(ref.kind.value)):
                if view.channel == ref.channel:
                    nodes.append((ref.id, view))
        page = nodes[:size]
        edges = [Edge(cursor=encode_cursor("pool", str(pid)), node=node) for pid, node in page]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(nodes) > size,
                has_previous_page=after_id is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
