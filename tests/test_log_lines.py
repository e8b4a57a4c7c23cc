"""What the service writes to its log, read from a real ``python -m app serve``: a refused key
is one WARNING line without a traceback, no e-mail address reaches any line, fields passed to
standard-library loggers are kept, and the access log names the operation and the key's
prefix, never its secret."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.web.documents import TRUSTED_DIR
from tests.process_helpers import ServedProcess, clean_environment, run_cli, served

PLACE = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")


@pytest_asyncio.fixture(scope="module")
async def logged(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ServedProcess, str]]:
    folder = tmp_path_factory.mktemp("logs")
    env = clean_environment(
        OMS_DATABASE_URL=database_url,
        OMS_LOG_JSON="true",
        OMS_ACCESS_LOG="true",
        OMS_SCHEDULER_SECONDS="0",
        OMS_MAIL_DIR=str(folder / "mail"),
        OMS_MAIL_RELAY_SECONDS="0.5",
    )
    created = await asyncio.to_thread(
        run_cli, ["create-api-key", "--scope", "ops", "--name", "log-test"], env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    async with served(env, folder / "serve.log") as process:
        async with httpx.AsyncClient(base_url=process.base_url) as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": 'mutation { a: createProduct(input: {sku: "LOG-1", name: "Log", '
                    "price: {amountMinor: 900, currency: EUR}}) { userErrors { code } } "
                    'b: setStock(input: {sku: "LOG-1", location: "main", quantity: 50}) '
                    "{ userErrors { code } } }"
                },
                headers={"Authorization": f"Bearer {key}"},
            )
            assert "errors" not in response.json(), response.json()
        yield process, key


async def _post(
    process: ServedProcess,
    body: dict[str, Any],
    key: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if request_id:
        headers["X-Request-ID"] = request_id
    async with httpx.AsyncClient(base_url=process.base_url) as client:
        response = await client.post("/graphql", json=body, headers=headers)
    return dict(response.json())


def _order(email: str, quantity: Any = 1) -> dict[str, Any]:
    return {
        "input": {
            "idempotencyKey": str(uuid.uuid4()),
            "channel": "webstore",
            "customer": {"email": email, "name": "Logged Customer"},
            "lines": [{"sku": "LOG-1", "quantity": quantity}],
        }
    }


async def test_a_refused_key_is_one_warning_line_without_a_traceback(
    logged: tuple[ServedProcess, str],
) -> None:
    process, _ = logged
    mark = process.mark()
    body = {
        "query": 'mutation { setSafetyStock(input: {sku: "LOG-1", quantity: 1}) { userErrors { code } } }'
    }
    answer = await _post(process, body, key="oms_0123456789ab_not-the-secret")
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHENTICATED"]
    access = await process.wait_for("http_request", mark)
    lines = [
        line
        for line in process.events(mark)
        if line.get("request_id") == access["request_id"] and line["event"] != "http_request"
    ]
    assert len(lines) == 1, lines
    (line,) = lines
    assert line["level"] == "warning"
    assert line["code"] == "UNAUTHENTICATED"
    assert "exception" not in line
    assert "not-the-secret" not in process.text()


async def test_no_email_address_reaches_any_log_line(logged: tuple[ServedProcess, str]) -> None:
    process, key = logged
    mark = process.mark()
    # a document that does not validate, with an address in its text: no source excerpt
    bad_field = (
        'mutation { placeOrder(input: {idempotencyKey: "log-x", channel: "webstore", '
        'customer: {email: "grace.hopper@example.org", nam: "Grace"}, '
        'lines: [{sku: "LOG-1", quantity: 1}]}) { userErrors { code } } }'
    )
    assert (await _post(process, {"query": bad_field}, key))["errors"]
    # a variable that does not coerce, quoted in graphql-core's message
    bad_value = _order("ada.lovelace@example.org", quantity="ada.lovelace@example.org")
    bad = await _post(process, {"query": PLACE, "variables": bad_value}, key)
    assert bad["errors"]
    # an order placed: its confirmation e-mail is logged as kept in a file
    placed = await _post(process, {"query": PLACE, "variables": _order("linus@example.org")}, key)
    assert placed["data"]["placeOrder"]["userErrors"] == [], placed
    for _ in range(200):
        if "kept as a file" in process.text()[mark:]:
            break
        await asyncio.sleep(0.05)
    logged_text = process.text()[mark:]
    assert "kept as a file" in logged_text, logged_text
    assert "@example.org" not in logged_text, logged_text
    assert "<email>" in logged_text
    assert "GraphQL request:" not in logged_text


async def test_fields_passed_to_standard_library_loggers_reach_the_line(
    logged: tuple[ServedProcess, str],
) -> None:
    process, _ = logged
    mark = process.mark()
    # the compiled placement without a key: the executor answers, and that is logged once
    # with extra={"document": ..., "reason": ...}
    answer = await _post(process, {"query": PLACE, "variables": _order("nobody@example.org")})
    assert answer["errors"]
    line = await process.wait_for("compiled document answered by the executor", mark)
    assert (line["document"], line["reason"]) == ("PlaceOrder", "auth")


async def test_the_access_log_names_known_operations_and_only_the_keys_prefix(
    logged: tuple[ServedProcess, str],
) -> None:
    process, key = logged
    prefix, secret = key.split("_", 2)[1:]
    sent = [
        ({"query": "query PlaceOrder { __typename }", "operationName": "PlaceOrder"}, key),
        ({"query": "query DropTables { __typename }", "operationName": "DropTables"}, key),
        ({"query": "{ __typename }"}, "not-a-key"),
    ]
    seen = []
    for body, credential in sent:
        mark = process.mark()
        request_id = uuid.uuid4().hex
        await _post(process, body, credential, request_id)
        # an earlier test's access line may land after the mark: wait for this request's own
        line = await process.wait_for("http_request", mark, match={"request_id": request_id})
        seen.append((line["operation"], line["api_key_prefix"]))
    assert seen == [("PlaceOrder", prefix), ("other", prefix), ("anonymous", "malformed")]
    assert secret not in process.text()


def test_the_log_file_is_json_lines_only(logged: tuple[ServedProcess, str]) -> None:
    process, _ = logged
    assert process.events()  # every line parses
    assert not any(line.get("level") == "error" for line in process.events())
