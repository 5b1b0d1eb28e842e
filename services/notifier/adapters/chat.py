"""Posting to chat incoming webhooks, with an HMAC signature, only to allowed targets: the host
on the allowlist, and every connection made to an address the policy allows (checked when the
connection is made, so a name that resolves elsewhere the second time gets nowhere)."""

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from opentelemetry import propagate, trace

from services.notifier.adapters.webhook_targets import (
    TargetPolicy,
    TargetRefused,
    guarded_session,
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
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = (
            None  # made in the event loop, when first used
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
                async with self._client().post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    await response.read()
            except TargetRefused as e:
                raise WebhookNotAllowed(f"webhook on {parts.hostname}: {e}") from None
            except (aiohttp.ClientError, TimeoutError) as e:
                raise WebhookUnreachable(
                    f"webhook on {parts.hostname} unreachable: {type(e).__name__}"
                ) from None
            call.answered(response.status)
            if response.status >= 400:
                # Never the URL: Slack, Teams and Mattermost webhook URLs carry their secret.
                raise WebhookFailed(f"webhook on {parts.hostname} answered HTTP {response.status}")

    def _client(self) -> aiohttp.ClientSession:
        # Keep-alive connections, as many as the dispatcher sends at once. aiohttp, not httpx:
        # httpx's pool cost grew with concurrency (about 5 ms of CPU a post at 64 at once).
        if self._session is None:
            self._session = guarded_session(
                self._targets, timeout_s=self._timeout_s, connections=100
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
