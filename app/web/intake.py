"""The channel intake's HTTP door: ``POST /intake/{channel}`` (one order, JSON, in the
channel's shape) and ``POST /intake/{channel}/batch`` (a till's upload, CSV or JSON lines),
both signed with the channel's secret (``X-OMS-Signature``, ``app.domain.intake.signatures``).

Answers (JSON): 200 ACCEPTED (with the order) · 422 INVALID (with every reason) · 202
RETRYING (stored; tried again, nothing for the sender to do) · 409 the external id came
before with other content · 401 bad signature · 404 no intake for that channel · 413 too
large · 415 a batch in another format · 503 not stored (send it again; Retry-After)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.services.container import Services
from app.services.intake.process import Reply
from app.services.intake.receive import (
    BatchReply,
    Declined,
    Refused,
    receive_batch,
    receive_webhook,
)
from app.web.edge import read_body
from graphql_schema.relay import global_id

STATUS_OF_REFUSAL = {
    Refused.UNKNOWN_CHANNEL: 404,
    Refused.UNAUTHENTICATED: 401,
    Refused.UNSUPPORTED: 415,
    Refused.MALFORMED: 422,
    Refused.UNAVAILABLE: 503,
    Refused.CONFLICT: 409,
}
STATUS_OF_REPLY = {
    "ACCEPTED": 200,
    "INVALID": 422,
    "DISCARDED": 422,
    "RETRYING": 202,
    "DEAD": 202,
    "UNAVAILABLE": 503,
}


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def reply_body(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": reply.status,
        "externalId": reply.external_id,
        "intakeId": global_id("IntakeMessage", str(reply.message_id)) if reply.message_id else None,
        "duplicate": reply.duplicate,
    }
    if reply.order_id is not None:
        body["order"] = {
            "id": global_id("Order", str(reply.order_id)),
            "number": reply.order_number,
        }
    if reply.refusals:
        body["errors"] = reply.errors()
    if reply.retry_at is not None:
        body["retryAt"] = reply.retry_at.isoformat()
    return body


def _declined(declined: Declined) -> Response:
    body = {
        "status": "REFUSED",
        "error": {"code": declined.reason.value, "message": declined.message},
    }
    if declined.detail:
        body["error"]["detail"] = declined.detail  # type: ignore[index]
    headers = {"Retry-After": "5"} if declined.reason is Refused.UNAVAILABLE else None
    return _json(body, STATUS_OF_REFUSAL[declined.reason], headers)


def intake_routes(services: Any) -> list[Route]:
    """``services``: the callable giving the running app's services."""

    async def webhook(request: Request) -> Response:
        svc: Services = services()
        body = await read_body(request, svc.settings.max_body_bytes)
        if isinstance(body, Response):
            return body
        answer = await receive_webhook(
            svc, request.path_params["channel"], body, request.headers.get("x-oms-signature")
        )
        if isinstance(answer, Declined):
            return _declined(answer)
        return _json(reply_body(answer), STATUS_OF_REPLY[answer.status])

    async def batch(request: Request) -> Response:
        svc: Services = services()
        body = await read_body(request, svc.settings.intake_max_batch_bytes)
        if isinstance(body, Response):
            return body
        answer = await receive_batch(
            svc,
            request.path_params["channel"],
            body,
            request.headers.get("content-type", ""),
            request.headers.get("x-oms-signature"),
        )
        if isinstance(answer, Declined):
            return _declined(answer)
        return _json(batch_body(answer), 200)

    return [
        Route("/intake/{channel}", webhook, methods=["POST"]),
        Route("/intake/{channel}/batch", batch, methods=["POST"]),
    ]


def batch_body(reply: BatchReply) -> dict[str, Any]:
    receipts = [{"rows": list(rows), **reply_body(r)} for rows, r in reply.receipts]
    counts: dict[str, int] = {}
    for _rows, r in reply.receipts:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {
        "status": "PROCESSED",
        "batchId": reply.batch_id,
        "counts": counts,
        "receipts": receipts,
        "badRows": [
            {
                "row": number,
                "field": refusal.field,
                "code": refusal.code.value,
                "message": refusal.message,
            }
            for number, refusal in reply.bad_rows
        ],
    }
