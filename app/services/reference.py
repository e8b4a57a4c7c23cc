"""Reference data every request may need: channels, regions with their transit days and
carrier services. Read in one statement and cached per replica for
``OMS_REFERENCE_CACHE_SECONDS`` (dropped at once when this replica changes it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.estimates import Handling
from app.services.container import Services
from app.storage import reference as store

CACHE_KEY = "reference"


@dataclass(frozen=True)
class RegionTransit:
    """Transit days to a region by one carrier service (a region's own are its default)."""

    code: str
    transit_min_days: int
    transit_max_days: int


@dataclass(frozen=True)
class ChannelRef:
    code: str
    kind: str
    priority: bool


@dataclass(frozen=True)
class ReferenceData:
    """Regions (the default under the key ``""``), channels and carrier services."""

    regions: dict[str, RegionTransit]
    channels: dict[str, ChannelRef]
    carrier_services: dict[tuple[str, str], RegionTransit] = field(default_factory=dict)

    def transit(self, region_code: str | None, carrier_service: str | None) -> RegionTransit | None:
        """The region's transit days, or those of one of its carrier services; None when the
        region (or the service in it) is unknown. No region: the default region."""
        region = self.regions.get(region_code or "")
        if region is None or carrier_service is None:
            return region
        return self.carrier_services.get((region.code, carrier_service))

    def transit_or_default(
        self, region_code: str | None, carrier_service: str | None
    ) -> RegionTransit | None:
        """For an order already placed: its region (else the default region) by its carrier
        service (else the region's own days)."""
        region = self.regions.get(region_code or "") or self.regions.get("")
        if region is None or carrier_service is None:
            return region
        return self.carrier_services.get((region.code, carrier_service), region)


def handling(services: Services, region: RegionTransit | None) -> Handling:
    """Handling days of the store, then the region's transit (none known: no transit)."""
    days = services.settings.handling_days
    if region is None:
        return Handling(days, 0, 0)
    return Handling(days, region.transit_min_days, region.transit_max_days)


async def load_reference(services: Services, fresh: bool = False) -> ReferenceData:
    """The reference data, from the cache unless ``fresh`` (a code the cache does not know
    may have been added since)."""
    cached = None if fresh else services.cache.get(CACHE_KEY)
    if isinstance(cached, ReferenceData):
        return cached
    async with services.read() as conn:
        rows = await store.reference_rows(conn)
    regions: dict[str, RegionTransit] = {}
    channels: dict[str, ChannelRef] = {}
    carrier_services: dict[tuple[str, str], RegionTransit] = {}
    for row in rows:
        if row["what"] == "channel":
            channels[row["code"]] = ChannelRef(row["code"], row["kind"], row["priority"])
        elif row["what"] == "service":
            carrier_services[(row["code"], row["service"])] = RegionTransit(
                row["code"], row["transit_min_days"], row["transit_max_days"]
            )
        else:
            region = RegionTransit(row["code"], row["transit_min_days"], row["transit_max_days"])
            regions[row["code"]] = region
            if row["is_default"]:
                regions[""] = region
    data = ReferenceData(regions, channels, carrier_services)
    services.cache.put(CACHE_KEY, data, services.settings.reference_cache_seconds)
    return data
