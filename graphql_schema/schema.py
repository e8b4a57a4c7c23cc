"""The schema: one root type per area merged into Query / Mutation / Subscription."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import strawberry
from graphql import ASTValidationRule, OperationDefinitionNode, parse
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    SchemaExtension,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.extensions.max_aliases import create_validator as create_alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.utils.str_converters import to_camel_case

from app.settings import Settings
from graphql_schema.errors import OMSSchema, make_should_mask
from graphql_schema.extensions import (
    DocumentCache,
    OperationMetrics,
    introspection_depth_rule,
)
from graphql_schema.fulfilment.mutations import FulfilmentMutations
from graphql_schema.fulfilment.queries import FulfilmentQueries
from graphql_schema.fulfilment.queue import FulfilmentQueueQueries
from graphql_schema.intake.mutations import IntakeMutations
from graphql_schema.intake.queries import IntakeQueries
from graphql_schema.inventory.mutations import InventoryMutations
from graphql_schema.inventory.queries import InventoryQueries
from graphql_schema.live.subscriptions import Subscription
from graphql_schema.node import NodeQueries
from graphql_schema.notifications.mutations import NotificationMutations
from graphql_schema.notifications.queries import NotificationQueries
from graphql_schema.ops.queries import OpsQueries
from graphql_schema.orders.mutations import OrderMutations
from graphql_schema.orders.queries import OrderQueries
from graphql_schema.products.mutations import ProductMutations
from graphql_schema.products.queries import ProductQueries
from graphql_schema.queue.mutations import QueueMutations
from graphql_schema.scalars import SCALAR_MAP
from graphql_schema.supply.mutations import SupplyMutations
from graphql_schema.supply.queries import SupplyQueries

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")

Query = merge_types(
    "Query",
    (
        NodeQueries,
        ProductQueries,
        InventoryQueries,
        OrderQueries,
        SupplyQueries,
        NotificationQueries,
        FulfilmentQueries,
        FulfilmentQueueQueries,
        IntakeQueries,
        OpsQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ProductMutations,
        InventoryMutations,
        OrderMutations,
        QueueMutations,
        FulfilmentMutations,
        SupplyMutations,
        NotificationMutations,
        IntakeMutations,
    ),
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    should_mask = make_should_mask(settings.debug)
    documents = DocumentCache(
        max_tokens=settings.max_tokens, max_bytes=settings.document_cache_bytes
    )
    limits: list[type[ASTValidationRule]] = [
        create_depth_validator(settings.max_query_depth, None, None),
        introspection_depth_rule(settings.max_introspection_depth),
        create_alias_validator(settings.max_aliases),
    ]
    known = known_operation_names()
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: OperationMetrics(known),
        documents.extension,
        # One rule class per schema, built once: the validation cache keys on the rule
        # classes, so per-request limiter instances (new classes each time) never hit it.
        lambda: AddValidationRules(limits),
        lambda: MaskErrors(should_mask_error=should_mask),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return OMSSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )


DOCUMENTS = Path(__file__).with_name("documents")


def known_operation_names() -> frozenset[str]:
    """Names metrics may carry: the root fields, and the trusted documents' operations."""
    names: set[str] = set()
    for root in (Query, Mutation, Subscription):
        definition = root.__strawberry_definition__  # type: ignore[attr-defined]
        names.update(
            field.graphql_name or to_camel_case(field.python_name) for field in definition.fields
        )
    for path in DOCUMENTS.glob("*.graphql"):
        for node in parse(path.read_text(encoding="utf-8")).definitions:
            if isinstance(node, OperationDefinitionNode) and node.name:
                names.add(node.name.value)
    return frozenset(names)


def export_sdl() -> str:
    return build_schema(Settings(introspection=True)).as_str() + "\n"
