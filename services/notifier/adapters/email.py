"""Sending e-mail over SMTP: multipart text + HTML, one span per message."""

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.notifier.domain.messages import EmailContent, one_line


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
    ) -> None:
        self._host = host
        self._port = port
        self._from = mail_from
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout_s = timeout_s
        self._tracer = tracer or trace.get_tracer(__name__)

    def build(
        self, *, to_name: str, to_email: str, content: EmailContent, notification_id: str
    ) -> EmailMessage:
        username, _, domain = to_email.rpartition("@")
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = Address(one_line(to_name, 100), username, domain)
        message["Subject"] = one_line(content.subject)
        message["Message-ID"] = make_msgid(domain=self._from.rpartition("@")[2].strip("> ") or None)
        message["X-Cop-Notification-Id"] = one_line(notification_id)
        message.set_content(content.text)
        message.add_alternative(content.html, subtype="html")
        return message

    async def send(self, message: EmailMessage) -> None:
        with self._tracer.start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={
                "server.address": self._host,
                "server.port": self._port,
                "cop.notification_id": str(message["X-Cop-Notification-Id"]),
            },
        ):
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout_s,
            )
