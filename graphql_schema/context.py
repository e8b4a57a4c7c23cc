"""Per-request GraphQL context: the services, the caller and the DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from app.services import catalog, shipments, supply
from app.services.container import Services
from app.services.live import LiveHub
from app.services.orders import reads as order_reads
from app.services.reference import ReferenceData, load_reference
from app.services.results import Actor
from app.storage.catalog import ProductRow
from app.storage.inventory import SkuRecord


@dataclass
class Loaders:
    """One batch per relation a list can ask for; created fresh for every request."""

    services: Services
    product_by_sku: DataLoader[str, ProductRow | None] = field(init=False)
    record_by_sku: DataLoader[str, SkuRecord | None] = field(init=False)
    reference_data: DataLoader[str, ReferenceData] = field(init=False)
    order_by_id: DataLoader[Any, Any] = field(init=False)
    lines_by_order: DataLoader[Any, list[Any]] = field(init=False)
    payments_by_order: DataLoader[Any, list[Any]] = field(init=False)
    events_by_order: DataLoader[Any, list[Any]] = field(init=False)
    promises_by_line: DataLoader[int, list[Any]] = field(init=False)
    order_id_by_line: DataLoader[int, Any] = field(init=False)
    event_by_id: DataLoader[int, Any] = field(init=False)
    receipt_by_id: DataLoader[int, Any] = field(init=False)
    supply_by_id: DataLoader[int, Any] = field(init=False)
    supply_history: DataLoader[int, list[Any]] = field(init=False)
    shipment_by_id: DataLoader[int, Any] = field(init=False)
    lines_by_shipment: DataLoader[int, list[Any]] = field(init=False)
    shipments_by_order: DataLoader[Any, list[Any]] = field(init=False)
    events_by_shipment: DataLoader[int, list[Any]] = field(init=False)

    def __post_init__(self) -> None:
        services = self.services

        async def load_products(skus: list[str]) -> list[ProductRow | None]:
            return await catalog.load_products(services, skus)

        async def load_records(skus: list[str]) -> list[SkuRecord | BaseException | None]:
            # a row that cannot be read is its key's error (the loader raises it for that
            # item only), never the whole list's
            found = await catalog.load_records(services, skus)
            return [found.get(sku) for sku in skus]

        async def load_reference_data(keys: list[str]) -> list[ReferenceData]:
            data = await load_reference(services)
            return [data for _ in keys]

        self.product_by_sku = DataLoader(load_fn=load_products)
        self.record_by_sku = DataLoader(load_fn=load_records)
        self.reference_data = DataLoader(load_fn=load_reference_data)

        def grouped(
            fetch: Callable[[Services, list[Any]], Awaitable[dict[Any, Any]]], default: Any
        ) -> DataLoader[Any, Any]:
            async def load(keys: list[Any]) -> list[Any]:
                found = await fetch(services, keys)
                return [found.get(k, default) for k in keys]

            return DataLoader(load_fn=load)

        self.order_by_id = grouped(order_reads.load_orders, None)
        self.lines_by_order = grouped(order_reads.load_lines, [])
        self.payments_by_order = grouped(order_reads.load_payments, [])
        self.events_by_order = grouped(order_reads.load_events, [])
        self.promises_by_line = grouped(order_reads.load_promises, [])
        self.order_id_by_line = grouped(order_reads.load_order_ids_of_lines, None)
        self.event_by_id = grouped(order_reads.load_events_by_id, None)
        self.receipt_by_id = grouped(supply.receipts_by_id, None)
        self.supply_by_id = grouped(supply.supply_by_id, None)
        self.supply_history = grouped(supply.supply_history, [])
        self.shipment_by_id = grouped(shipments.load_shipments, None)
        self.lines_by_shipment = grouped(shipments.load_line_refs, [])
        self.shipments_by_order = grouped(shipments.load_shipments_of_orders, [])
        self.events_by_shipment = grouped(shipments.load_events, [])

    async def reference(self) -> ReferenceData:
        """Regions and channels: loaded once per request however many fields ask."""
        return await self.reference_data.load("all")

    def orders_changed(self) -> None:
        """A mutation changed orders: nothing this request loaded of them is current."""
        self.order_by_id.clear_all()
        self.lines_by_order.clear_all()
        self.payments_by_order.clear_all()
        self.events_by_order.clear_all()
        self.shipment_by_id.clear_all()
        self.lines_by_shipment.clear_all()
        self.shipments_by_order.clear_all()
        self.events_by_shipment.clear_all()


@dataclass
class Context:
    services: Services
    request: Any = None
    response: Any = None
    request_id: str | None = None
    connection_key: str | None = None
    connection_params: dict[str, Any] | None = None
    actor: Actor | None = None
    actor_resolved: bool = False
    actor_lookup: asyncio.Future[Actor | None] | None = None
    live: LiveHub | None = None
    key_refused: bool = False
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services)
