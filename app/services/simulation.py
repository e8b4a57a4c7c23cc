"""The promise-accuracy simulation: the real use cases, day by day, on a simulated clock.

A seeded scenario (``app.domain.simulation``: suppliers with their lateness histories, SKUs
with their demand and supply) is played against a scratch database. Each simulated day:

- 06:00 every scheduled job runs once (``app.services.scheduler.JOBS``: the pre-order release,
  first promises, delay-consent expiry, shipments opening, the e-mail relay, ...);
- 08:00 suppliers' news: a late delivery is announced (``update_supply_eta``) some days before
  its first expected date, or on it when ops chase it; sometimes first with a too hopeful date;
- 09:00 goods arrive (``receive_goods``: FIFO allocation, re-promises), POs on their real
  date, production runs day by day (some days at half output);
- 10:00-18:00 customers order (``place_order``; Poisson demand per SKU), some of them again;
- 18:30 pauses and resumes (``set_paused``), answers to delay-consent requests
  (``respond_to_delay``; some customers never answer);
- 19:00 the warehouse consolidates a customer's shipments due together (``consolidate``)
  and dispatches the shipments on its work list for ``OMS_HANDLING_DAYS`` (``advance``,
  ``dispatch_shipment``);
- 19:30 carriers deliver (``mark_delivered``), transit drawn from the region's range;
- 20:00 the first-promise job and the relay run again.

The e-mail relay also runs a minute after the supply step (in production it wakes on every
new event and sends within seconds; here the other steps' messages wait for the 20:00 round),
so a delay's message goes out as the service would send it. Before day 0 each supplier of
purchase orders delivers its past orders (``history_receipts``), so its history is known.
The report compares every delivered line with its first promise, checks that every delay
was told, and replays the queue events to check that no line was served before an earlier
eligible one.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, TypeVar

from app.domain.simulation import (
    DEFAULT_SCENARIO,
    Counters,
    Delay,
    DeliveredLine,
    QueueEvent,
    Scenario,
    SkuProfile,
    SlipRecord,
    SupplyMode,
    accuracy_figures,
    breakdown,
    delay_figures,
    deviation_histogram,
    draw_lateness,
    fairness_violations,
    plan_slip,
    poisson,
)
from app.services import inventory, queue, shipments
from app.services.catalog import load_records
from app.services.consolidation import consolidate
from app.services.container import Services
from app.services.invariants import check
from app.services.inventory import BackorderInput, PreorderInput, ProductInput
from app.services.notifications import relay
from app.services.orders.placement import LineInput, PlaceOrderInput, place_order
from app.services.reference import load_reference
from app.services.results import SYSTEM, Result
from app.services.scheduler import JOBS, Job, run_job
from app.services.shipment_dispatch import Parcel, dispatch_shipment
from app.services.supply import (
    ProductionRunInput,
    PurchaseOrderInput,
    ReceiptInput,
    create_purchase_order,
    receive_goods,
    schedule_production_run,
    update_supply_eta,
)
from app.storage import simulation as store

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCATION = "main"
REGIONS = (("EU", 0.7), ("UK", 0.2), ("US", 0.1))
DEFAULT_START = date(2027, 1, 4)
STREAMS = ("demand", "supply", "consent", "transit")
# Every scheduled job runs each simulated morning but the ops dashboard's demand forecast: it
# changes no order, line or promise and costs about a second a run (statsmodels).
DAILY_JOBS = tuple(job for job in JOBS if job is not Job.FORECAST_DEMAND)


class SimClock:
    """The services' clock: the driver sets it; nothing else moves it."""

    def __init__(self, start: date) -> None:
        self.current = datetime.combine(start, clock_time(0, 0), tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def at(self, day: date, hour: int, minute: int = 0) -> None:
        self.current = datetime.combine(day, clock_time(hour, minute), tzinfo=UTC)

    def tick(self, seconds: float = 1.0) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass(frozen=True)
class SimulationConfig:
    days: int = 365
    seed: int = 1
    start: date = DEFAULT_START
    scenario: Scenario = DEFAULT_SCENARIO


@dataclass
class _Supply:
    """What the simulation knows of one open supply record, and what will really happen."""

    supply_id: int
    profile: SkuProfile
    supplier: str
    mode: SupplyMode
    quantity: int
    first_date: date  # the first expected date (a run: its first output day)
    arrival: date  # when it really arrives (a run: when output really starts)
    announcements: list[tuple[date, date]]  # (announced on, new expected date)
    units_per_day: int = 0
    received: int = 0
    expected: date | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.received


@dataclass
class _State:
    clock: SimClock
    rng: random.Random  # demand: orders, customers, pauses
    supply_rng: random.Random  # lateness, slip news, run output
    consent_rng: random.Random  # answers to delay-consent requests
    transit_rng: random.Random  # carriers' transit days
    counters: Counters = field(default_factory=Counters)
    supplies: list[_Supply] = field(default_factory=list)
    slips: list[SlipRecord] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    open_customers: dict[str, int] = field(default_factory=dict)  # e-mail -> open orders
    customer_profile: dict[str, tuple[str, str]] = field(default_factory=dict)  # region, channel
    pauses: dict[date, list[Any]] = field(default_factory=dict)
    resumes: dict[date, list[Any]] = field(default_factory=dict)
    first_shippable: dict[Any, date] = field(default_factory=dict)
    deliveries: dict[date, list[int]] = field(default_factory=dict)  # shipment ids
    answered: set[int] = field(default_factory=set)
    watermarks: list[tuple[int, datetime]] = field(default_factory=list)
    order_seq: int = 0


class Simulation:
    def __init__(self, services: Services, clock: SimClock, config: SimulationConfig) -> None:
        self.services = services
        self.config = config
        # one stream per kind of draw: a rule change that moves promises (and so how many
        # customers are asked to accept a delay) leaves demand and supply as they were
        demand, supply, consent, transit = (
            random.Random(f"{config.seed}:{kind}") for kind in STREAMS
        )
        self.state = _State(clock, demand, supply, consent, transit)
        self.transit: dict[str, tuple[int, int]] = {}

    # --- helpers -----------------------------------------------------------------------------

    @property
    def clock(self) -> SimClock:
        return self.state.clock

    def day(self, offset: int) -> date:
        return self.config.start + timedelta(days=offset)

    async def _call(self, what: str, work: Awaitable[Result[T]]) -> T | None:
        """Run one use case at the current simulated time (then a second later)."""
        result = await work
        self.clock.tick()
        if not result.ok:
            error = result.errors[0]
            self.state.counters.error(f"{what}:{error.code}", error.message)
            return None
        return result.value

    async def _mark(self) -> None:
        """Events written so far happened at (or before) the current simulated time."""
        async with self.services.read() as conn:
            last = await store.last_event_id(conn)
        marks = self.state.watermarks
        if not marks or marks[-1][0] != last:
            marks.append((last, self.clock()))

    async def _jobs(self, jobs: tuple[Job, ...] | None = None) -> None:
        for job in jobs or DAILY_JOBS:
            try:
                await run_job(self.services, job)
                self.state.counters.job_runs += 1
            except Exception:  # a failing job is a finding, not the end of the run
                log.exception("simulated job failed", extra={"job": job.value})
                self.state.counters.job_errors += 1
            self.clock.tick()
        await self._mark()

    async def _relay(self) -> None:
        """The relay's own loop (``OMS_MAIL_RELAY_SECONDS``; it also wakes on every new
        event): one round a minute after each step of the day."""
        await self._mark()
        self.clock.tick(60)
        await relay.run_once(self.services)
        await self._mark()

    # --- set-up ------------------------------------------------------------------------------

    async def setup(self) -> None:
        reference = await load_reference(self.services, fresh=True)
        for code, _share in REGIONS:
            region = reference.transit_or_default(code, None)
            self.transit[code] = (
                (region.transit_min_days, region.transit_max_days) if region else (0, 0)
            )
        await self._supplier_history()
        self.clock.at(self.day(0), 5)
        for sku in self.config.scenario.skus:
            await self._call(
                "create_product",
                inventory.create_product(
                    self.services, SYSTEM, ProductInput(sku.sku, sku.name, price_minor=5000)
                ),
            )
            if sku.launch_day is not None:
                await self._call(
                    "configure_preorder",
                    inventory.configure_preorder(
                        self.services,
                        SYSTEM,
                        PreorderInput(
                            sku.sku,
                            enabled=True,
                            release_date=self.day(sku.launch_day or 0),
                            cap=sku.preorder_cap,
                            message="Ships from {date}",
                        ),
                    ),
                )
            await self._call(
                "configure_backorder",
                inventory.configure_backorder(
                    self.services, SYSTEM, BackorderInput(sku.sku, allowed=True)
                ),
            )
        await self._mark()

    async def _supplier_history(self) -> None:
        """The store is not new: each supplier of purchase orders has delivered
        ``history_receipts`` POs before day 0, late as its profile says (told and received
        through the same use cases, on a product of their own), so its on-time rate and its
        lateness history are known when the first promise is made."""
        scenario = self.config.scenario
        count = scenario.history_receipts
        po_suppliers = {s.supplier for s in scenario.skus if s.mode is SupplyMode.PURCHASE_ORDER}
        suppliers = [s for s in scenario.suppliers if s.code in po_suppliers]
        if not count or not suppliers:
            return
        rng = self.state.supply_rng
        spacing = 10
        first = self.day(-(count * spacing + max(s.lead_days for s in suppliers) + 40))
        self.clock.at(first, 5)
        steps: list[tuple[date, int, str, Any]] = []  # (day, order, what, data)
        for supplier in suppliers:
            sku = f"HIST-{supplier.code}"
            await self._call(
                "create_product",
                inventory.create_product(
                    self.services, SYSTEM, ProductInput(sku, f"{supplier.name}: past orders")
                ),
            )
            for i in range(count):
                ordered = first + timedelta(days=i * spacing + rng.randint(0, spacing - 1))
                expected = ordered + timedelta(days=supplier.lead_days)
                lateness = draw_lateness(rng, supplier)
                plan = plan_slip(rng, supplier, lateness)
                key = (supplier.code, i)
                steps.append((ordered, 0, "create", (key, sku, supplier, expected)))
                for at, new in plan.steps:
                    when = max(ordered + timedelta(days=1), expected + timedelta(days=at))
                    steps.append((when, 1, "slip", (key, expected + timedelta(days=new))))
                steps.append((expected + timedelta(days=lateness), 2, "receive", (key, sku)))
        ids: dict[Any, int] = {}
        for when, _order, what, data in sorted(steps, key=lambda s: (s[0], s[1], str(s[3][0]))):
            self.clock.at(when, 9)
            if what == "create":
                key, sku, supplier, expected = data
                row = await self._call(
                    "history_purchase_order",
                    create_purchase_order(
                        self.services,
                        SYSTEM,
                        PurchaseOrderInput(
                            sku,
                            10,
                            LOCATION,
                            supplier.code,
                            supplier.name,
                            supplier.lead_days,
                            expected,
                            f"SIM-HISTORY-{key[0]}-{key[1]}",
                        ),
                    ),
                )
                if row is not None:
                    ids[key] = int(row["id"])
                    self.state.counters.history_purchase_orders += 1
            elif what == "slip" and data[0] in ids:
                await self._call(
                    "history_slip",
                    update_supply_eta(self.services, SYSTEM, ids[data[0]], data[1], "late"),
                )
            elif what == "receive" and data[0] in ids:
                await self._call(
                    "history_receipt",
                    receive_goods(
                        self.services,
                        SYSTEM,
                        ReceiptInput(
                            data[1], 10, LOCATION, f"SIM-HISTORY-GRN-{ids[data[0]]}", ids[data[0]]
                        ),
                    ),
                )

    # --- one day -----------------------------------------------------------------------------

    async def run_day(self, offset: int) -> None:
        today = self.day(offset)
        self.clock.at(today, 6)
        await self._jobs()
        self.clock.at(today, 7)
        await self._replenish(offset, today)
        self.clock.at(today, 8)
        await self._announce_slips(today)
        self.clock.at(today, 9)
        await self._receive(today)
        await self._relay()
        self.clock.at(today, 10)
        await self._orders(offset, today)
        self.clock.at(today, 18, 30)
        await self._pauses(today)
        await self._answer_consents()
        self.clock.at(today, 19)
        await self._dispatch(today)
        self.clock.at(today, 19, 30)
        await self._deliver(today)
        self.clock.at(today, 20)
        await self._jobs((Job.PROMISE_NEW_LINES, Job.SEND_NOTIFICATIONS))

    async def _replenish(self, offset: int, today: date) -> None:
        """Periodic review: order what the waiting demand and the demand until the next
        supply can arrive need, less what is still to come."""
        scenario = self.config.scenario
        due = [
            s
            for s in scenario.skus
            if offset >= s.first_supply_day and (offset - s.first_supply_day) % s.review_days == 0
        ]
        if not due:
            return
        records = await load_records(self.services, [s.sku for s in due])
        for sku in due:
            record = records.get(sku.sku)
            if record is None or isinstance(record, Exception):
                continue
            mean_quantity = sum(sku.quantities) / len(sku.quantities)
            # made to order: what waits, and what the review period will bring; the demand
            # until it arrives waits for the next order (the queue this OMS is about)
            horizon = sku.review_days
            if sku.launch_day is not None and sku.launch_day > offset:
                horizon += sku.launch_day - offset
            coming = sum(s.remaining for s in self.state.supplies if s.profile.sku == sku.sku)
            on_hand_free = record.free_on_hand if not record.snapshot.is_released(today) else 0
            ready = record.snapshot.ready_for(None) if record.snapshot.is_released(today) else 0
            need = (
                record.waiting_units
                + math.ceil(sku.daily_demand * mean_quantity * horizon)
                - coming
                - on_hand_free
                - ready
            )
            if need <= 0:
                continue
            quantity = int(math.ceil(need / 10) * 10)
            await self._order_supply(sku, today, quantity)

    async def _order_supply(self, sku: SkuProfile, today: date, quantity: int) -> None:
        scenario = self.config.scenario
        supplier = scenario.supplier(sku.supplier)
        rng = self.state.supply_rng
        expected = today + timedelta(days=supplier.lead_days)
        lateness = draw_lateness(rng, supplier)
        plan = plan_slip(rng, supplier, lateness)
        announcements = [
            (
                max(today + timedelta(days=1), expected + timedelta(days=at)),
                expected + timedelta(days=new),
            )
            for at, new in plan.steps
        ]
        if sku.mode is SupplyMode.PURCHASE_ORDER:
            row = await self._call(
                "create_purchase_order",
                create_purchase_order(
                    self.services,
                    SYSTEM,
                    PurchaseOrderInput(
                        sku.sku,
                        quantity,
                        LOCATION,
                        supplier.code,
                        supplier.name,
                        supplier.lead_days,
                        expected,
                        f"SIM-PO-{sku.sku}-{today.isoformat()}",
                    ),
                ),
            )
            if row is None:
                return
            self.state.counters.purchase_orders += 1
            units_per_day = 0
        else:
            units_per_day = sku.run_units_per_day
            run_days = max(1, math.ceil(quantity / units_per_day))
            quantity = run_days * units_per_day
            row = await self._call(
                "schedule_production_run",
                schedule_production_run(
                    self.services,
                    SYSTEM,
                    ProductionRunInput(
                        sku.sku,
                        expected,
                        units_per_day,
                        run_days,
                        LOCATION,
                        f"SIM-RUN-{sku.sku}-{today.isoformat()}",
                    ),
                ),
            )
            if row is None:
                return
            self.state.counters.production_runs += 1
        self.state.supplies.append(
            _Supply(
                supply_id=int(row["id"]),
                profile=sku,
                supplier=supplier.code,
                mode=sku.mode,
                quantity=quantity,
                first_date=expected,
                arrival=expected + timedelta(days=lateness),
                announcements=announcements,
                units_per_day=units_per_day,
                expected=expected,
            )
        )

    async def _announce_slips(self, today: date) -> None:
        for supply in self.state.supplies:
            for announced_on, new_date in supply.announcements:
                if announced_on != today or supply.remaining <= 0:
                    continue
                if supply.received and supply.mode is SupplyMode.PRODUCTION_RUN:
                    continue  # the run has started: its output tells the rest
                if supply.expected is None or new_date <= supply.expected or new_date < today:
                    continue
                note = f"SIM-SLIP {supply.supply_id}/{len(self.state.slips) + 1}"
                done = await self._call(
                    "update_supply_eta",
                    update_supply_eta(self.services, SYSTEM, supply.supply_id, new_date, note),
                )
                if done is None:
                    continue
                self.state.counters.eta_changes += 1
                self.state.slips.append(
                    SlipRecord(
                        supply.supply_id,
                        supply.profile.sku,
                        supply.supplier,
                        self.clock(),
                        (new_date - supply.expected).days,
                        note,
                    )
                )
                supply.expected = new_date
        await self._mark()

    async def _receive(self, today: date) -> None:
        rng = self.state.supply_rng
        for supply in self.state.supplies:
            if supply.remaining <= 0 or today < supply.arrival:
                continue
            if supply.mode is SupplyMode.PURCHASE_ORDER:
                quantity = supply.remaining
            else:
                output = supply.units_per_day
                if rng.random() < supply.profile.run_shortfall_share:
                    output = max(1, output // 2)
                quantity = min(output, supply.remaining)
            receipt = await self._call(
                "receive_goods",
                receive_goods(
                    self.services,
                    SYSTEM,
                    ReceiptInput(
                        supply.profile.sku,
                        quantity,
                        LOCATION,
                        f"SIM-GRN-{supply.supply_id}-{today.isoformat()}",
                        supply.supply_id,
                    ),
                ),
            )
            if receipt is None:
                continue
            supply.received += quantity
            self.state.counters.receipts += 1
            self.state.counters.units_received += quantity
        self.state.supplies = [s for s in self.state.supplies if s.remaining > 0]
        await self._mark()

    def _customer(self) -> str:
        state = self.state
        open_ones = sorted(e for e, n in state.open_customers.items() if n > 0)
        if open_ones and state.rng.random() < self.config.scenario.repeat_customer_share:
            return state.rng.choice(open_ones)
        email = f"customer{len(state.customers) + 1}@example.com"
        state.customers.append(email)
        return email

    async def _orders(self, offset: int, today: date) -> None:
        rng = self.state.rng
        scenario = self.config.scenario
        wanted: list[SkuProfile] = []
        for sku in scenario.skus:
            wanted.extend([sku] * poisson(rng, sku.daily_demand))
        rng.shuffle(wanted)
        step = (8 * 3600) / (len(wanted) + 1)
        for sku in wanted:
            self.clock.tick(step)
            email = self._customer()
            if email not in self.state.customer_profile:
                self.state.customer_profile[email] = (
                    rng.choices([r for r, _ in REGIONS], [w for _, w in REGIONS])[0],
                    "b2b" if rng.random() < scenario.b2b_share else "webstore",
                )
            region, channel = self.state.customer_profile[email]
            quantity = rng.choice(sku.quantities)
            self.state.order_seq += 1
            placed = await self._call(
                "place_order",
                place_order(
                    self.services,
                    SYSTEM,
                    PlaceOrderInput(
                        idempotency_key=f"sim-{self.state.order_seq}",
                        channel=channel,
                        customer_email=email,
                        customer_name=email.split("@")[0],
                        region=region,
                        lines=(LineInput(sku.sku, quantity),),
                    ),
                ),
            )
            if placed is None:
                self.state.counters.orders_refused += 1
                continue
            self.state.counters.orders_placed += 1
            self.state.open_customers[email] = self.state.open_customers.get(email, 0) + 1
            if rng.random() < scenario.pause_share:
                start = today + timedelta(days=rng.randint(1, 20))
                self.state.pauses.setdefault(start, []).append(placed.order_id)
                resume = start + timedelta(days=rng.randint(3, 30))
                self.state.resumes.setdefault(resume, []).append(placed.order_id)
        await self._mark()

    async def _pauses(self, today: date) -> None:
        for order_id in self.state.pauses.pop(today, []):
            if await self._call(
                "pause",
                queue.set_paused(self.services, SYSTEM, order_id, None, True),
            ):
                self.state.counters.pauses += 1
        for order_id in self.state.resumes.pop(today, []):
            if await self._call(
                "resume",
                queue.set_paused(self.services, SYSTEM, order_id, None, False),
            ):
                self.state.counters.resumes += 1
        await self._mark()

    async def _answer_consents(self) -> None:
        scenario = self.config.scenario
        async with self.services.read() as conn:
            rows = await store.consent_requests(conn)
        for row in rows:
            line_id = int(row["line_id"])
            if line_id in self.state.answered:
                continue
            self.state.answered.add(line_id)
            draw = self.state.consent_rng.random()
            if draw < scenario.consent_silent_share:
                continue  # no answer: the store's policy applies when it is due
            cancel = draw < scenario.consent_silent_share + scenario.consent_cancel_share
            decision = "CANCEL" if cancel else "ACCEPT"
            if await self._call(
                "respond_to_delay",
                queue.respond_to_delay(self.services, SYSTEM, line_id, decision),
            ):
                if cancel:
                    self.state.counters.consent_cancelled += 1
                else:
                    self.state.counters.consent_accepted += 1
        await self._mark()

    async def _work_list(self) -> list[Any]:
        async with self.services.read() as conn:
            return list(await store.workable_shipments(conn))

    async def _dispatch(self, today: date) -> None:
        """The warehouse: a shipment goes out ``OMS_HANDLING_DAYS`` after it appeared on the
        work list (picked, packed, handed to the carrier); a customer's shipments due
        together are consolidated first."""
        handling_days = self.services.settings.handling_days
        due_customers: dict[str, list[Any]] = {}
        for row in await self._work_list():
            first = self.state.first_shippable.setdefault(row["id"], today)
            if (today - first).days >= handling_days and row["status"] == "PICKING":
                due_customers.setdefault(row["customer_email"], []).append(row)
        for rows in due_customers.values():
            if len(rows) < 2:
                continue
            orders = sorted({o for r in rows for o in r["order_ids"]}, key=str)
            merged = await self._call(
                "consolidate", consolidate(self.services, SYSTEM, orders, None, None)
            )
            if merged is not None:
                self.state.counters.consolidations += 1
        for row in await self._work_list():
            first = self.state.first_shippable.setdefault(row["id"], today)
            if (today - first).days < handling_days:
                continue
            shipment_id = int(row["id"])
            steps = {"PICKING": 2, "PACKED": 1}.get(row["status"], 0)
            moved = True
            for _ in range(steps):
                advanced = await self._call(
                    "advance", shipments.advance(self.services, SYSTEM, shipment_id)
                )
                if advanced is None:
                    moved = False
                    break
            parcel = Parcel("SIM-CARRIER", f"SIM{shipment_id:08d}")
            if not moved or not await self._call(
                "dispatch_shipment",
                dispatch_shipment(self.services, SYSTEM, shipment_id, parcel),
            ):
                continue
            self.state.counters.dispatches += 1
            self.state.first_shippable.pop(shipment_id, None)
            low, high = self.transit.get(row["region"] or "EU", (0, 0))
            arrives = today + timedelta(days=self.state.transit_rng.randint(low, high))
            self.state.deliveries.setdefault(arrives, []).append(shipment_id)
        await self._mark()

    async def _deliver(self, today: date) -> None:
        for shipment_id in self.state.deliveries.pop(today, []):
            if await self._call(
                "mark_delivered",
                shipments.mark_delivered(self.services, SYSTEM, shipment_id, today),
            ):
                self.state.counters.deliveries += 1
        await self._mark()

    # --- the report --------------------------------------------------------------------------

    def _time_of(self, event_id: int) -> datetime:
        marks = self.state.watermarks
        low, high = 0, len(marks) - 1
        while low < high:
            mid = (low + high) // 2
            if marks[mid][0] >= event_id:
                high = mid
            else:
                low = mid + 1
        return marks[low][1]

    async def report(self, runtime_seconds: float) -> dict[str, Any]:
        services = self.services
        async with services.read() as conn:
            delivered_rows = await store.delivered_lines(conn, services.settings.store_timezone)
            delay_rows = await store.delays(conn)
            queue_rows = await store.queue_events(conn)
            promise_causes = await store.promise_changes(conn)
            statuses = await store.line_statuses(conn)
        violations = await check(services)
        runs = {s.sku: s.supplier for s in self.config.scenario.skus}
        delivered = [
            DeliveredLine(
                line_id=int(r["line_id"]),
                sku=r["sku"],
                supplier=r["supplier_code"]
                or (runs.get(r["sku"]) if r["supply_kind"] == "PRODUCTION_RUN" else "ON-HAND"),
                placed_on=r["placed_on"],
                first_earliest=r["first_earliest"],
                first_latest=r["first_latest"],
                last_latest=r["last_latest"],
                delivered_on=r["delivered_on"],
                told_delays=int(r["told_delays"]),
            )
            for r in delivered_rows
        ]
        delays = [
            Delay(
                event_id=int(r["event_id"]),
                line_id=int(r["line_id"]),
                cause=r["cause"] or "",
                at=self._time_of(int(r["event_id"])),
                sent_at=r["sent_at"],
                note=r["note"],
            )
            for r in delay_rows
        ]
        events = [
            QueueEvent(
                event_id=int(r["event_id"]),
                tx=r["tx"],
                kind=store.QUEUE_KINDS[r["kind"]],
                line_id=int(r["line_id"]),
                sku=r["sku"],
                queue_key=(1, int(r["queue_seq"])),
                quantity=int(r["quantity"]),
                units=int(r["units"])
                if r["kind"] != "line.unallocated"
                else -int(r["allocated_before"]),
            )
            for r in queue_rows
        ]
        unfair = fairness_violations(events)
        scenario = self.config.scenario
        counters = self.state.counters
        return {
            "config": {
                "days": self.config.days,
                "seed": self.config.seed,
                "start": self.config.start.isoformat(),
                "handling_days": services.settings.handling_days,
                "delay_consent_days": services.settings.delay_consent_days,
            },
            "scenario": {
                "suppliers": {
                    s.code: {
                        "name": s.name,
                        "lead_days": s.lead_days,
                        "on_time_share": round(s.on_time_share, 3),
                        "lateness": [list(x) for x in s.lateness],
                    }
                    for s in scenario.suppliers
                },
                "skus": {
                    s.sku: {
                        "supplier": s.supplier,
                        "mode": s.mode.value,
                        "daily_demand": s.daily_demand,
                        "launch_day": s.launch_day,
                    }
                    for s in scenario.skus
                },
            },
            "accuracy": accuracy_figures(delivered),
            "accuracy_by_sku": breakdown(delivered, "sku"),
            "accuracy_by_supplier": breakdown(delivered, "supplier"),
            "deviation_histogram_days": deviation_histogram(delivered),
            "delays": delay_figures(delays, self.state.slips, delivered),
            "repromises_by_cause": dict(sorted(promise_causes.items())),
            "fairness": {
                "queue_events_checked": len(events),
                "violations": len(unfair),
                "holds": not unfair,
                "examples": [vars(v) for v in unfair[:5]],
            },
            "invariant_errors": sum(1 for v in violations if v.is_error),
            "line_statuses": dict(sorted(statuses.items())),
            "activity": {
                k: v for k, v in vars(counters).items() if k not in ("errors", "examples")
            },
            "refusals": {
                k: {"count": n, "first_message": counters.examples.get(k, "")}
                for k, n in sorted(counters.errors.items())
            },
            "runtime_seconds": round(runtime_seconds, 1),
        }


async def simulate(
    services: Services,
    clock: SimClock,
    config: SimulationConfig,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Play ``config`` against the (empty, migrated, reference-data loaded) database behind
    ``services``, whose clock must be ``clock``; return the report."""
    started = time.monotonic()
    sim = Simulation(services, clock, config)
    await sim.setup()
    for offset in range(config.days):
        await sim.run_day(offset)
        if progress is not None:
            progress(offset)
    # what is in transit arrives; nothing new happens
    last = config.start + timedelta(days=config.days)
    pending = sorted(d for d in sim.state.deliveries if d >= last)
    for day in pending:
        clock.at(day, 16)
        await sim._deliver(day)
        await sim._relay()
    return await sim.report(time.monotonic() - started)
