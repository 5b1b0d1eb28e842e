"""Client spans for the calls that leave the platform: an e-mail to an SMTP server, a post to a
chat webhook. Each says where it went, how it ended (`cop.delivery.outcome`, the span status)
and never carries a secret: webhook URLs keep only their scheme, host and port (Slack, Teams and
Mattermost URLs carry their token in the path), SMTP credentials are never recorded.

    with smtp_span(tracer, host=..., port=..., notification_id=...):
        await aiosmtplib.send(...)

    with webhook_span(tracer, url, channel_kind="slack") as call:
        response = await client.post(url, ...)
        call.answered(response.status_code)
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shared.metrics import count_notification

SMTP_SPAN = "smtp send"
WEBHOOK_SPAN = "webhook POST"
OUTCOME = "cop.delivery.outcome"
DELIVERED, FAILED = "delivered", "failed"


def scrub_url(url: str) -> str:
    """Scheme, host and port only: a webhook's path and query are its secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    path = "/REDACTED" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{path}"


def _failed(span: Span, error: BaseException) -> None:
    span.set_attribute(OUTCOME, FAILED)
    span.set_attribute("error.type", type(error).__qualname__)
    # The exception's type only: its text may quote a server's answer with addresses in it.
    span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))


@contextmanager
def _client_span(
    tracer: trace.Tracer,
    name: str,
    attributes: dict[str, str | int],
    notification_id: str | None,
) -> Iterator[Span]:
    """A client span whose exception marks it failed (type only) and is re-raised."""
    if notification_id:
        attributes["cop.notification_id"] = notification_id
    with tracer.start_as_current_span(
        name,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as e:
            _failed(span, e)
            raise


@contextmanager
def smtp_span(
    tracer: trace.Tracer, *, host: str, port: int, notification_id: str | None = None
) -> Iterator[Span]:
    """One message handed to an SMTP server; an exception marks it failed and is re-raised."""
    attributes: dict[str, str | int] = {
        "server.address": host,
        "server.port": port,
        "network.protocol.name": "smtp",
        "channel.kind": "email",
    }
    with _client_span(tracer, SMTP_SPAN, attributes, notification_id) as span:
        yield span
        span.set_attribute(OUTCOME, DELIVERED)


@dataclass
class WebhookCall:
    span: Span

    def answered(self, status_code: int) -> None:
        """The receiver's HTTP status: 4xx and 5xx mark the call failed."""
        self.span.set_attribute("http.response.status_code", status_code)
        if status_code >= 400:
            self.span.set_attribute(OUTCOME, FAILED)
            self.span.set_attribute("error.type", str(status_code))
            self.span.set_status(Status(StatusCode.ERROR, f"HTTP {status_code}"))
        else:
            self.span.set_attribute(OUTCOME, DELIVERED)


@contextmanager
def webhook_span(
    tracer: trace.Tracer, url: str, *, channel_kind: str, notification_id: str | None = None
) -> Iterator[WebhookCall]:
    """One POST to a chat webhook; call `answered(status)`; an exception marks it failed."""
    parts = urlsplit(url)
    attributes: dict[str, str | int] = {
        "http.request.method": "POST",
        "server.address": parts.hostname or "",
        "url.full": scrub_url(url),
        "url.scheme": parts.scheme,
        "channel.kind": channel_kind,
    }
    if parts.port:
        attributes["server.port"] = parts.port
    with _client_span(tracer, WEBHOOK_SPAN, attributes, notification_id) as span:
        yield WebhookCall(span)


__all__ = [
    "DELIVERED",
    "FAILED",
    "OUTCOME",
    "SMTP_SPAN",
    "WEBHOOK_SPAN",
    "WebhookCall",
    "count_notification",
    "scrub_url",
    "smtp_span",
    "webhook_span",
]
