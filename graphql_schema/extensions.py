"""Schema extensions: per-operation metrics (labelled by known operation names only), the
document cache (bounded by bytes), a stable ``extensions.code`` on every error, a depth limit
for introspection, and the spec's rule that a document with several operations needs a name."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    parse,
    validate,
)
from strawberry.extensions import SchemaExtension

from app.metrics import GRAPHQL_LATENCY, GRAPHQL_REQUESTS


class OperationMetrics(SchemaExtension):
    """Counts operations and their latency by operation name and type. Only names the service
    knows (its trusted documents' operations and its root fields) become labels; anything a
    client makes up is ``other``, so no caller can grow the metrics."""

    def __init__(self, known: frozenset[str] = frozenset()) -> None:
        self.known = known

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        given = ctx.operation_name
        name = "anonymous" if not given else given if given in self.known else "other"
        try:
            op_type = ctx.operation_type.value
        except Exception:  # the document did not parse: no operation type
            op_type = "invalid"
        result = ctx.result
        outcome = "error" if result is not None and getattr(result, "errors", None) else "ok"
        GRAPHQL_REQUESTS.labels(name, op_type, outcome, "executor").inc()
        GRAPHQL_LATENCY.labels(name, op_type, "executor").observe(time.perf_counter() - started)


@dataclass
class _Entry:
    document: DocumentNode
    size: int
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Parsed and validated documents, keyed by their text.

    graphql-core 3.3 hashes AST nodes recursively, so caches keyed by the parsed document (as
    Strawberry's ValidationCache is) spend more time hashing than validating. Keying by the
    text, which Python hashes in microseconds, avoids that. Bounded LRU; shared by requests.
    """

    def __init__(self, max_tokens: int, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_tokens = max_tokens
        self.max_bytes = max_bytes
        # a parsed document takes about 20 times its text: bounded by 20 times the text
        self._entries: LRUCache[str, _Entry] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: entry.size
        )

    def entry(self, query: str) -> _Entry:
        found: _Entry | None = self._entries.get(query)
        if found is not None:
            return found
        entry = _Entry(parse(query, max_tokens=self.max_tokens), size=len(query) * 20 + 256)
        if entry.size <= self.max_bytes // 16:
            self._entries[query] = entry
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
        errors = list(entry.errors)
        # the name the client gave (``operation_name`` falls back to the first operation's)
        if not errors and ctx._provided_operation_name is None:
            # the spec: several operations and no name is an error (never "the first one")
            operations = [
                d for d in entry.document.definitions if isinstance(d, OperationDefinitionNode)
            ]
            if len(operations) > 1:
                errors.append(
                    GraphQLError(
                        "The document has several operations: name one with `operationName`.",
                        extensions={"code": "OPERATION_NAME_REQUIRED"},
                    )
                )
        ctx.pre_execution_errors = errors
        yield


# ---------------------------------------------------------------- error codes

_CODES: tuple[tuple[str, str], ...] = (
    ("Syntax Error: Document contains more than", "TOO_MANY_TOKENS"),
    ("Syntax Error", "GRAPHQL_PARSE_FAILED"),
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("exceeds maximum introspection depth", "QUERY_TOO_DEEP"),
    ("aliases found", "TOO_MANY_ALIASES"),
    ("introspection has been disabled", "INTROSPECTION_DISABLED"),
    ("Variable '$", "BAD_USER_INPUT"),
    ("must provide operation name", "OPERATION_NAME_REQUIRED"),
    ("Unknown operation named", "OPERATION_NOT_FOUND"),
)


def code_for(error: GraphQLError, executed: bool) -> str:
    """A stable code for an error that has none: by what graphql-core or a limiter said, else
    an internal error (masked: "Unexpected error.") or, before execution, a validation
    failure."""
    message = error.message
    for fragment, code in _CODES:
        if fragment.lower() in message.lower():
            return code
    if executed or message == "Unexpected error.":
        return "INTERNAL_SERVER_ERROR"
    return "GRAPHQL_VALIDATION_FAILED"


def with_codes(errors: list[GraphQLError], executed: bool) -> None:
    """Give every error without an ``extensions.code`` its stable one (in place)."""
    for error in errors:
        extensions = error.extensions if isinstance(error.extensions, dict) else {}
        if not extensions.get("code"):
            error.extensions = {**extensions, "code": code_for(error, executed)}


# ---------------------------------------------------------------- introspection depth


def introspection_depth_rule(max_depth: int) -> type[ASTValidationRule]:
    """A validation rule: no selection under ``__schema`` or ``__type`` deeper than
    ``max_depth`` (fragments followed). The operation depth limit skips introspection, and a
    deep introspection query is as costly as any."""

    class IntrospectionDepth(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            name = node.name.value if node.name else "anonymous"
            roots = [
                s
                for s in node.selection_set.selections
                if isinstance(s, FieldNode) and s.name.value in ("__schema", "__type")
            ]
            if any(_depth(s, fragments, frozenset(), max_depth) > max_depth for s in roots):
                self.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum introspection depth of {max_depth}", node
                    )
                )

    return IntrospectionDepth


def _depth(
    node: Node, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str], limit: int
) -> int:
    """Depth of ``node``'s selections; stops counting past ``limit``."""
    selection_set = getattr(node, "selection_set", None)
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue
            depth = _depth(fragments[name], fragments, seen | {name}, limit) - 1
        elif isinstance(selection, InlineFragmentNode):
            depth = _depth(selection, fragments, seen, limit) - 1
        else:
            depth = _depth(selection, fragments, seen, limit)
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest + 1
