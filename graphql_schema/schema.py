"""The schema: one root type per area merged into Query / Mutation / Subscription."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import strawberry
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from app.settings import Settings
from graphql_schema.errors import make_should_mask
from graphql_schema.extensions import OperationMetrics
from graphql_schema.inventory.mutations import InventoryMutations
from graphql_schema.inventory.queries import InventoryQueries
from graphql_schema.products.queries import ProductQueries

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")

Query = merge_types("Query", (ProductQueries, InventoryQueries))
Mutation = merge_types("Mutation", (InventoryMutations,))


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    should_mask = make_should_mask(settings.debug)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        OperationMetrics,
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: MaskErrors(should_mask_error=should_mask),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(relay_max_results=100),
    )


def export_sdl() -> str:
    return build_schema(Settings(introspection=True)).as_str() + "\n"
