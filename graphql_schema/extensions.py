"""Schema extensions: per-operation metrics."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, parse, validate
from strawberry.extensions import SchemaExtension

from app.metrics import GRAPHQL_LATENCY, GRAPHQL_REQUESTS


class OperationMetrics(SchemaExtension):
    """Counts operations and their latency by operation name and type."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        name = ctx.operation_name or "anonymous"
        try:
            op_type = ctx.operation_type.value
        except Exception:  # the document did not parse: no operation type
            op_type = "invalid"
        result = ctx.result
        outcome = "error" if result is not None and getattr(result, "errors", None) else "ok"
        GRAPHQL_REQUESTS.labels(name, op_type, outcome).inc()
        GRAPHQL_LATENCY.labels(name, op_type).observe(time.perf_counter() - started)


@dataclass
class _Entry:
    document: DocumentNode
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Parsed and validated documents, keyed by their text.

    graphql-core 3.3 hashes AST nodes recursively, so caches keyed by the parsed document (as
    Strawberry's ValidationCache is) spend more time hashing than validating. Keying by the
    text, which Python hashes in microseconds, avoids that. Bounded LRU; shared by requests.
    """

    def __init__(self, max_tokens: int, maxsize: int = 1024) -> None:
        self.max_tokens = max_tokens
        self.maxsize = maxsize
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def entry(self, query: str) -> _Entry:
        found = self._entries.get(query)
        if found is not None:
            self._entries.move_to_end(query)
            return found
        entry = _Entry(parse(query, max_tokens=self.max_tokens))
        self._entries[query] = entry
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry

    def extension(self) -> SchemaExtension:
        return _DocumentCacheExtension(self)


class _DocumentCacheExtension(SchemaExtension):
    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query is not None:
            ctx.graphql_document = self.cache.entry(ctx.query).document
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry = self.cache.entry(ctx.query or "")
        if entry.errors is None:
            entry.errors = list(validate(ctx.schema._schema, entry.document, ctx.validation_rules))
        ctx.pre_execution_errors = entry.errors
        yield
