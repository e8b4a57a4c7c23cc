"""Compiled execution of trusted documents (``graphql_schema/documents/``): a generic compiler
for queries over plain data (``queries``) and the ``placeOrder`` mutation (``place_order``).
A trusted document that does not compile is logged and counted at start-up and answered by the
executor; so is every request a compiled plan hands back to it."""

from __future__ import annotations

import logging

from graphql import GraphQLSchema, OperationDefinitionNode, OperationType, parse, validate

from app.metrics import UNCOMPILED_DOCUMENTS
from graphql_schema.compiled.common import Fallback, Handoff
from graphql_schema.compiled.place_order import CompiledPlaceOrder
from graphql_schema.compiled.queries import CompiledOperation, RootResolver

__all__ = ["CompiledOperation", "CompiledPlaceOrder", "Handoff", "compile_documents"]

log = logging.getLogger(__name__)


def compile_documents(
    schema: GraphQLSchema, texts: list[str], roots: dict[str, RootResolver]
) -> dict[str, CompiledOperation | CompiledPlaceOrder]:
    """Compiled plans by document text, for the documents that qualify: queries over
    ``roots``, and the ``placeOrder`` mutation."""
    compiled: dict[str, CompiledOperation | CompiledPlaceOrder] = {}
    for text in texts:
        document = parse(text)
        if validate(schema, document):
            raise ValueError(f"trusted document does not validate:\n{text}")
        operation = document.definitions[0]
        name = (
            operation.name.value
            if isinstance(operation, OperationDefinitionNode) and operation.name
            else "anonymous"
        )
        try:
            if (
                len(document.definitions) == 1
                and isinstance(operation, OperationDefinitionNode)
                and operation.operation is OperationType.MUTATION
            ):
                compiled[text] = CompiledPlaceOrder(schema, operation)
            else:
                compiled[text] = CompiledOperation(schema, document, roots)
        except Fallback as exc:
            UNCOMPILED_DOCUMENTS.labels(name).inc()
            log.warning(
                "trusted document not compiled; the executor answers it",
                extra={"document": name, "reason": str(exc)},
            )
    return compiled
