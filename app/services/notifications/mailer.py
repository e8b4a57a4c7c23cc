"""How messages leave: over SMTP with aiosmtplib, or, with no SMTP server configured, into
``.eml`` files under ``OMS_MAIL_DIR`` (one log line each), so a newcomer sees what customers
would get. One ``Mailer`` per process, in the services container (``services.mailer``).

A failed send is ``SendFailed``: ``permanent`` when the server refused the message for good
(5xx: an unknown recipient, a rejected sender), so no retry can help.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from app.services.notifications.render import Rendered
from app.settings import Settings

log = logging.getLogger(__name__)


class SendFailed(Exception):
    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Session(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class Mailer(Protocol):
    name: str

    def session(self) -> contextlib.AbstractAsyncContextManager[Session]: ...


def compose(
    settings: Settings,
    rendered: Rendered,
    *,
    to: str,
    message_id: str,
    sent_at: datetime,
    unsubscribe_url: str | None,
) -> EmailMessage:
    """The MIME message: plain text and its HTML alternative, with the Message-ID made when
    the notification was (so a resend is recognisable as the same message)."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = formataddr((settings.store_name, settings.mail_from))
    message["To"] = to
    if settings.mail_reply_to:
        message["Reply-To"] = settings.mail_reply_to
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent_at)
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class _SmtpSession:
    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client

    async def send(self, message: EmailMessage) -> None:
        try:
            await self.client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendFailed(f"recipient refused: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(f"SMTP {exc.code}: {exc.message}", exc.code >= 500) from exc
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=False) from exc


class SmtpMailer:
    """One SMTP connection per batch of messages (``session``), TLS or STARTTLS as set."""

    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout_seconds,
        )
        try:
            await client.connect()
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"cannot reach the SMTP server: {exc}", permanent=False) from exc
        try:
            yield _SmtpSession(client)
        finally:
            with contextlib.suppress(Exception):
                await client.quit()


class _FileSession:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        message_id = str(message["Message-ID"]).strip("<>")
        name = message_id.split("@", 1)[0].replace("/", "_") + ".eml"
        path = self.folder / name
        data = bytes(message)
        await asyncio.to_thread(self._write, path, data)
        log.info(
            "mail kept as a file (no OMS_SMTP_HOST): %s to %s: %s",
            path,
            message["To"],
            message["Subject"],
        )

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


class FileMailer:
    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        yield _FileSession(self.folder)


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return FileMailer(settings.mail_dir or settings.data_dir / "mail")
