"""Posting to chat incoming webhooks, with an HMAC signature, only to allowed targets: the host
on the allowlist, and every connection made to an address the policy allows (checked when the
connection is made, so a name that resolves elsewhere the second time gets nowhere)."""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from opentelemetry import propagate, trace

from services.notifier.adapters.webhook_targets import (
    TargetPolicy,
    TargetRefused,
    guarded_transport,
)
from shared.outbound import webhook_span

SIGNATURE_HEADER = "X-Cop-Signature"
TIMESTAMP_HEADER = "X-Cop-Timestamp"


class WebhookNotAllowed(ValueError):
    pass


class WebhookFailed(RuntimeError):
    pass


class WebhookUnreachable(ConnectionError):
    """Transient: the consumer redelivers rather than dead-letters."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookPoster:
    def __init__(
        self,
        *,
        targets: TargetPolicy,
        secret: str,
        timeout_s: float = 10.0,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._targets = targets
        self._secret = secret
        # Keep as many connections open as the dispatcher sends at once, so a busy webhook is
        # not reconnected to for every post.
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would make the connections instead
            transport=guarded_transport(
                targets, limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)
            ),
        )
        self._tracer = tracer or trace.get_tracer(__name__)

    async def post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        channel_kind: str,
        sign_body: bool,
        secret: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """POST the payload; a signed body uses the channel's `secret`, else the default one.
        `Idempotency-Key` (the delivery id) lets a receiver drop a repeat."""
        parts = urlsplit(url)
        if not self._targets.url_allowed(url):
            raise WebhookNotAllowed(f"webhook host of {parts.hostname!r} is not allowed")
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if sign_body:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(secret or self._secret, timestamp, body)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        with webhook_span(
            self._tracer, url, channel_kind=channel_kind, notification_id=idempotency_key
        ) as call:
            propagate.inject(headers)
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except TargetRefused as e:
                raise WebhookNotAllowed(f"webhook on {parts.hostname}: {e}") from None
            except httpx.TransportError as e:
                raise WebhookUnreachable(
                    f"webhook on {parts.hostname} unreachable: {type(e).__name__}"
                ) from None
            call.answered(response.status_code)
            if response.is_error:
                # Never the URL: Slack, Teams and Mattermost webhook URLs carry their secret.
                raise WebhookFailed(
                    f"webhook on {parts.hostname} answered HTTP {response.status_code}"
                )

    async def close(self) -> None:
        await self._client.aclose()
