"""Per-request GraphQL context: the services, the caller and the DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from app.services import availability, catalog, inventory
from app.services.availability import ReferenceData
from app.services.container import Services
from app.services.results import Actor
from app.storage.inventory import SkuRecord
from app.storage.tables import Product


@dataclass
class Loaders:
    """One batch per relation a list can ask for; created fresh for every request."""

    services: Services
    product_by_sku: DataLoader[str, Product | None] = field(init=False)
    record_by_sku: DataLoader[str, SkuRecord | None] = field(init=False)
    reference_data: DataLoader[str, ReferenceData] = field(init=False)

    def __post_init__(self) -> None:
        services = self.services

        async def load_products(skus: list[str]) -> list[Product | None]:
            return await catalog.load_products(services, skus)

        async def load_records(skus: list[str]) -> list[SkuRecord | None]:
            found = await inventory.load_records(services, skus)
            return [found.get(sku) for sku in skus]

        async def load_reference(keys: list[str]) -> list[ReferenceData]:
            data = await availability.load_reference_data(services)
            return [data for _ in keys]

        self.product_by_sku = DataLoader(load_fn=load_products)
        self.record_by_sku = DataLoader(load_fn=load_records)
        self.reference_data = DataLoader(load_fn=load_reference)

    async def reference(self) -> ReferenceData:
        """Regions and channels: loaded once per request however many fields ask."""
        return await self.reference_data.load("all")


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
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services)
