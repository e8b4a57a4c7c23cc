"""A real SMTP server in the test process (aiosmtpd) and helpers to read what customers got
(a plain module, no tests)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller

from tests.support import LiveServer, live_server

SEND = "mutation { runScheduledJob(input: {job: SEND_NOTIFICATIONS}) { ran result } }"


class Sink:
    """Keeps every message the server accepted. ``refuse`` (an SMTP reply such as
    ``"451 4.3.0 Try again later"``) makes it refuse the DATA of every message instead."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: str | None = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def mail_server(database_url: str, port: int, **overrides: Any) -> AsyncIterator[LiveServer]:
    """The service sending through the sink on ``port`` (plain SMTP, no TLS)."""
    settings: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 5,
        "mail_retry_base_seconds": 60,
        "mail_retry_max_seconds": 600,
        "mail_max_attempts": 3,
        **overrides,
    }
    async with live_server(database_url, **settings) as server:
        yield server


async def send_mail(server: LiveServer) -> dict[str, Any]:
    """One round of the relay (derive, send what is due); its counts."""
    result = await server.gql(SEND)
    payload: dict[str, Any] = result.data["runScheduledJob"]
    assert payload["ran"] is True, payload
    return dict(payload["result"] or {})


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def link(message: EmailMessage, path: str) -> dict[str, str]:
    """The query of the first link to ``.../<path>?...`` in the message's text."""
    for url in re.findall(r"https?://\S+", text_of(message)):
        parsed = urlparse(url.rstrip(").,>"))
        if parsed.path.rstrip("/").endswith(path):
            return {k: v[0] for k, v in parse_qs(parsed.query).items()}
    raise AssertionError(f"no {path} link in {text_of(message)!r}")


async def eventually(check: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)
