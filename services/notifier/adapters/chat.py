"""Posting to chat incoming webhooks, with a host allowlist and an HMAC signature."""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

SIGNATURE_HEADER = "X-Cop-Signature"
TIMESTAMP_HEADER = "X-Cop-Timestamp"


class WebhookNotAllowed(ValueError):
    pass


class WebhookFailed(RuntimeError):
    pass


class WebhookUnreachable(ConnectionError):
    """Transient: the consumer redelivers rather than dead-letters."""


def host_allowed(url: str, allowed_hosts: list[str]) -> bool:
    """Exact host names, or `*.example.com` for its subdomains. Nothing else is reachable."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    for pattern in allowed_hosts:
        pattern = pattern.lower()
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if host == pattern:
            return True
    return False


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookPoster:
    def __init__(
        self,
        *,
        allowed_hosts: list[str],
        secret: str,
        timeout_s: float = 10.0,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._allowed_hosts = allowed_hosts
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._tracer = tracer or trace.get_tracer(__name__)

    async def post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        sign_body: bool,
        secret: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """POST the payload; a signed body uses the channel's `secret`, else the default one.
        `Idempotency-Key` (the delivery id) lets a receiver drop a repeat."""
        if not host_allowed(url, self._allowed_hosts):
            raise WebhookNotAllowed(f"webhook host of {urlsplit(url).hostname!r} is not allowed")
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if sign_body:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(secret or self._secret, timestamp, body)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        with self._tracer.start_as_current_span(
            "webhook POST",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": "POST", "server.address": urlsplit(url).hostname},
        ) as span:
            propagate.inject(headers)
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.TransportError as e:
                host = urlsplit(url).hostname
                raise WebhookUnreachable(
                    f"webhook on {host} unreachable: {type(e).__name__}"
                ) from None
            span.set_attribute("http.response.status_code", response.status_code)
            if response.is_error:
                # Never the URL: Slack, Teams and Mattermost webhook URLs carry their secret.
                host = urlsplit(url).hostname
                raise WebhookFailed(f"webhook on {host} answered HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
