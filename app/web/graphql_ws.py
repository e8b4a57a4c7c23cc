"""The legacy ``graphql-ws`` protocol (subscriptions-transport-ws) for every operation.

Strawberry's handler of that protocol runs ``start`` messages through ``schema.subscribe``,
which refuses queries and mutations (InvalidOperationTypeError, masked as "Unexpected
error."). The protocol carries all three: a query or mutation is answered with one ``data``
message and then ``complete``, as the reference server does. This handler runs every
operation through ``schema.stream``, which dispatches on the operation type (the
``graphql-transport-ws`` handler does the same)."""

from __future__ import annotations

import asyncio

from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import CompleteMessage, ErrorMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError

from graphql_schema.context import Context


class GraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        try:
            source = await self.schema.stream(  # type: ignore[attr-defined]
                query,
                variable_values=variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation_name,
            )
            self.subscriptions[operation_id] = source
            first = True
            async for result in source:
                if first and isinstance(result, PreExecutionError):
                    assert result.errors
                    await self.send_message(
                        ErrorMessage(
                            type="error", id=operation_id, payload=result.errors[0].formatted
                        )
                    )
                    return
                if not isinstance(result, ExecutionResult):  # @defer / @stream frames
                    await self.send_message(
                        ErrorMessage(
                            type="error",
                            id=operation_id,
                            payload={"message": "Incremental delivery is not supported here."},
                        )
                    )
                    return
                await self.send_data_message(result, operation_id)
                first = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            # released whether it completed, failed before execution or was stopped: it no
            # longer counts towards the connection's limit and its id may be used again
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
