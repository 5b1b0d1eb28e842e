"""Sending e-mail over SMTP: multipart text + HTML, one span per message, over a small pool of
kept-open connections (a new connection per message costs the handshake, EHLO and QUIT: most of
the time of a message to a local relay).

Member text in headers (names, the subject) goes through `header_text`: no control character
(NUL, ESC, BEL, CR/LF, ...) or bidi override reaches a header raw, and no line break adds one.
"""

import asyncio
import contextlib
import functools
import hashlib
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

import aiosmtplib
from opentelemetry import trace

from services.notifier.adapters.mime import Attachment, encoded_header, mailbox, mime_message
from services.notifier.domain.messages import EmailContent, one_line
from services.notifier.settings import NotifierSettings
from shared.outbound import smtp_span

# Invisible characters that reorder the text around them: a display name could spoof another.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def header_text(value: str, limit: int = 200) -> str:
    """Header-safe text: whitespace controls (CR, LF, tab, ...) become one space, the other
    control characters and bidi overrides are dropped, and the length is bounded."""
    kept = "".join(
        ch
        for ch in value
        if ch.isspace() or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
    return one_line(kept, limit)


def message_id(notification_id: str, mail_from: str) -> str:
    """The same `Message-ID` for every attempt of one delivery, so a receiver (or its mail
    store) can recognise a message sent again after the sender crashed mid-send."""
    domain = mail_from.rpartition("@")[2].strip("> ").strip() or "localhost"
    digest = hashlib.sha256(notification_id.encode()).hexdigest()[:40]
    return f"<cop.{digest}@{header_text(domain, 200)}>"


@dataclass(frozen=True, slots=True)
class Mail:
    """One message ready for the relay: its envelope recipient and its bytes."""

    recipient: str
    notification_id: str
    data: bytes


class SmtpSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        mail_from: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 10.0,
        tracer: trace.Tracer | None = None,
        connections: int = 8,
        idle_s: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        name, self._from_address = parseaddr(mail_from)
        self._from = mailbox(name, self._from_address) if name else self._from_address
        self._new_client = functools.partial(  # each connection to the relay is opened so
            aiosmtplib.SMTP,
            hostname=host,
            port=port,
            username=username,
            password=password,
            start_tls=starttls,
            timeout=timeout_s,
        )
        self._tracer = tracer or trace.get_tracer(__name__)
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # open, with when each was last used
        self._idle_s = idle_s  # an older connection may have been dropped by the relay

    @classmethod
    def from_settings(cls, settings: NotifierSettings, tracer: trace.Tracer) -> "SmtpSender":
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
            tracer=tracer,
        )

    def build(
        self,
        *,
        to_name: str,
        to_email: str,
        content: EmailContent,
        notification_id: str,
        headers: Iterable[tuple[str, str]] = (),
        attachment: Attachment | None = None,
    ) -> Mail:
        """The message's bytes; `headers` are added as they are (ASCII, already safe)."""
        if not to_email.isprintable() or any(ch.isspace() for ch in to_email):
            raise ValueError("a recipient address has no CR or LF, space or control character")
        notification_id = header_text(notification_id)
        data = mime_message(
            (
                ("From", self._from),
                ("To", mailbox(header_text(to_name, 100), to_email)),
                ("Subject", encoded_header(header_text(content.subject))),
                ("Message-ID", message_id(notification_id, self._from_address)),
                ("X-Cop-Notification-Id", notification_id),
                *headers,
            ),
            text=content.text,
            html=content.html,
            attachment=attachment,
        )
        return Mail(to_email, notification_id, data)

    async def send(self, mail: Mail) -> None:
        options = [] if mail.recipient.isascii() else ["SMTPUTF8"]
        with smtp_span(
            self._tracer, host=self._host, port=self._port, notification_id=mail.notification_id
        ):
            async with self._slots:
                client = await self._connection()
                try:
                    await client.sendmail(
                        self._from_address, [mail.recipient], mail.data, mail_options=options
                    )
                except BaseException:
                    client.close()  # its state is unknown: never reused
                    raise
                self._idle.append((client, time.monotonic()))

    async def _connection(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and time.monotonic() - since < self._idle_s:
                return client
            client.close()
        client = self._new_client()
        await client.connect()
        return client

    async def close(self) -> None:
        while self._idle:
            client, _ = self._idle.pop()
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
