"""Supply mutations (ops): purchase orders, production runs, ETA changes, cancellations,
goods receipts, the allocation policy, carrier services and running a scheduled job now."""

from __future__ import annotations

import strawberry

from graphql_schema.supply.mutations import (
    allocation_policy_set,
    carrier_service_set,
    goods_receive,
    production_run_schedule,
    purchase_order_create,
    scheduled_job_run,
    supply_cancel,
    supply_eta_update,
)


@strawberry.type
class SupplyMutations:
    create_purchase_order = purchase_order_create.FIELD
    schedule_production_run = production_run_schedule.FIELD
    update_supply_eta = supply_eta_update.FIELD
    cancel_supply = supply_cancel.FIELD
    receive_goods = goods_receive.FIELD
    set_allocation_policy = allocation_policy_set.FIELD
    set_carrier_service = carrier_service_set.FIELD
    run_scheduled_job = scheduled_job_run.FIELD
