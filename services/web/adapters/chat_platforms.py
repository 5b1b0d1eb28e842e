"""Slack, Mattermost and Microsoft Teams as the chat commands see them: each request checked
the way its platform documents (before anything in it is read), decoded into one `ChatRequest`,
and each answer encoded in the platform's own payload.

- Slack signs `v0:{timestamp}:{raw body}` with the app's signing secret (`X-Slack-Signature`,
  `X-Slack-Request-Timestamp`); `slack_sdk`'s verifier checks it and refuses timestamps more
  than five minutes away.
- Mattermost sends the slash command's token in the form; it is compared in constant time.
- A Teams outgoing webhook signs the raw body with HMAC-SHA256 under the webhook's
  base64-encoded secret (`Authorization: HMAC <base64>`); its activity's `timestamp` must be
  within five minutes too.
"""

import asyncio
import base64
import binascii
import hashlib
import hmac
import html
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import structlog
from slack_sdk.signature import SignatureVerifier

log = structlog.get_logger("cop.web.chat")

WINDOW_S = 5 * 60  # how old a signed request may be; a replay inside it is caught by its signature


class ChatPlatform(StrEnum):
    SLACK = "slack"
    MATTERMOST = "mattermost"
    TEAMS = "teams"


class NotVerified(Exception):
    """The request is not from the platform (or too old): answer 401, do nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # `forged` or `stale`: for the counter, never for the answer


@dataclass(frozen=True)
class ChatRequest:
    """A command as any platform sends it. `proof` identifies this exact request (its
    signature) for the replay check; None where the platform signs nothing per request."""

    platform: ChatPlatform
    workspace_id: str
    channel_id: str
    channel_name: str | None
    user_id: str
    user_name: str | None
    command: str  # `kudos` or `cop`
    text: str
    response_url: str | None = None
    proof: str | None = None
    mention_ids: Mapping[str, str] = field(default_factory=dict)  # Teams: name -> user id


@dataclass(frozen=True)
class ChatAnswer:
    """What the member reads. `text` is Markdown with `[label](url)` links and `code`; the
    platform encoders turn it into their own format."""

    text: str


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as e:
        raise NotVerified("forged") from e
    return {k: v[0] for k, v in fields.items()}


def _slash_command(
    platform: ChatPlatform, form: Mapping[str, str], proof: str | None
) -> ChatRequest:
    """Slack and Mattermost send a slash command as the same form fields. Slack escapes `&`,
    `<` and `>` in the text (Mattermost does not, and unescaping plain text changes nothing
    a member would type as a command)."""
    command = form.get("command", "").strip().lstrip("/").lower()
    return ChatRequest(
        platform=platform,
        workspace_id=form.get("team_id", ""),
        channel_id=form.get("channel_id", ""),
        channel_name=form.get("channel_name") or None,
        user_id=form.get("user_id", ""),
        user_name=form.get("user_name") or None,
        command="kudos" if command == "kudos" else "cop",
        text=html.unescape(form.get("text", "")),
        response_url=form.get("response_url") or None,
        proof=proof,
    )


@dataclass(frozen=True)
class Slack:
    signing_secret: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> ChatRequest:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not signature:
            raise NotVerified("forged")
        if abs(time.time() - int(timestamp)) > WINDOW_S:
            raise NotVerified("stale")
        if not SignatureVerifier(self.signing_secret).is_valid(body, timestamp, signature):
            raise NotVerified("forged")
        return _slash_command(ChatPlatform.SLACK, _form(body), proof=signature)

    @staticmethod
    def payload(answer: ChatAnswer, *, public: bool = False) -> dict[str, Any]:
        return {
            "response_type": "in_channel" if public else "ephemeral",
            "text": slack_text(answer),
        }


@dataclass(frozen=True)
class Mattermost:
    tokens: tuple[str, ...]  # one per registered command (`/kudos`, `/cop`)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> ChatRequest:
        form = _form(body)
        sent = form.get("token", "").encode()
        if not sent or not any(hmac.compare_digest(sent, t.encode()) for t in self.tokens):
            raise NotVerified("forged")
        return _slash_command(ChatPlatform.MATTERMOST, form, proof=None)

    @staticmethod
    def payload(answer: ChatAnswer, *, public: bool = False) -> dict[str, Any]:
        return {"response_type": "in_channel" if public else "ephemeral", "text": answer.text}


_TEAMS_FIRST_MENTION = re.compile(r"^\s*<at>[^<]*</at>\s*")
_TAGS = re.compile(r"<(?!/?at>)[^>]*>")


@dataclass(frozen=True)
class Teams:
    secret: str  # the outgoing webhook's security token, base64 as Teams shows it

    def verify(self, body: bytes, headers: Mapping[str, str]) -> ChatRequest:
        scheme, _, sent = headers.get("authorization", "").partition(" ")
        try:
            key = base64.b64decode(self.secret, validate=True)
        except (binascii.Error, ValueError) as e:
            raise NotVerified("forged") from e
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        if scheme != "HMAC" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
            raise NotVerified("forged")
        try:
            activity = json.loads(body)
            sent_at = datetime.fromisoformat(str(activity["timestamp"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError) as e:
            raise NotVerified("forged") from e
        if not isinstance(activity, dict):
            raise NotVerified("forged")
        if sent_at.tzinfo is None or abs(time.time() - sent_at.timestamp()) > WINDOW_S:
            raise NotVerified("stale")
        return self._decoded(activity, proof=expected)

    @staticmethod
    def _decoded(activity: Mapping[str, Any], proof: str) -> ChatRequest:
        sender = activity.get("from") or {}
        data = activity.get("channelData") or {}
        channel = data.get("channel") or {}
        conversation = str((activity.get("conversation") or {}).get("id", ""))
        mention_ids = {
            str(m["mentioned"].get("name", "")).strip(): str(m["mentioned"].get("id", ""))
            for m in activity.get("entities") or []
            if isinstance(m, dict) and m.get("type") == "mention" and m.get("mentioned")
        }
        # The text starts with the mention of the webhook itself; then a command word.
        text = _TEAMS_FIRST_MENTION.sub("", str(activity.get("text") or ""), count=1)
        text = " ".join(html.unescape(_TAGS.sub(" ", text)).split())
        verb, _, rest = text.partition(" ")
        command = "kudos" if verb.lower().lstrip("/") == "kudos" else "cop"
        return ChatRequest(
            platform=ChatPlatform.TEAMS,
            workspace_id=str((data.get("tenant") or {}).get("id", "")),
            channel_id=str(channel.get("id") or conversation.split(";")[0]),
            channel_name=channel.get("name") or None,
            user_id=str(sender.get("aadObjectId") or sender.get("id", "")),
            user_name=sender.get("name") or None,
            command=command,
            text=rest.strip() if command == "kudos" else text.removeprefix("cop ").strip(),
            proof=proof,
            mention_ids=mention_ids,
        )

    @staticmethod
    def payload(answer: ChatAnswer, *, public: bool = False) -> dict[str, Any]:
        """Teams shows an outgoing webhook's answer in the conversation (it has no private
        answers), synchronously."""
        return {"type": "message", "text": answer.text}


Platform = Slack | Mattermost | Teams

_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def slack_text(answer: ChatAnswer) -> str:
    """Slack's mrkdwn: `&`, `<` and `>` escaped, `<url|label>` links, `*bold*`."""
    escaped = answer.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    linked = _MARKDOWN_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", escaped)
    return _BOLD.sub(r"*\1*", linked)


class DelayedAnswers:
    """Answers that took longer than the platform waits, posted to the request's
    `response_url` (Slack, Mattermost) when they are ready. Only to the hosts the settings
    allow: the URL comes from a verified request, and still never sends the edge anywhere
    else."""

    def __init__(self, allowed_hosts: frozenset[str], timeout_s: float) -> None:
        self._allowed = allowed_hosts
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self._running: set[asyncio.Task[None]] = set()

    def allows(self, url: str | None) -> bool:
        if not url:
            return False
        parts = urlsplit(url)
        return parts.scheme in {"https", "http"} and (parts.hostname or "") in self._allowed

    def follow_up(
        self, work: "asyncio.Task[ChatAnswer]", url: str | None, platform: Platform
    ) -> None:
        """Deliver `work`'s answer to `url` once it is ready (nowhere if the host is not
        allowed: the member then has the acknowledgement only)."""
        if url is None or not self.allows(url):
            log.warning(
                "no delayed answer: response_url not allowed", host=urlsplit(url or "").hostname
            )
            return
        task = asyncio.create_task(self._deliver(work, url, platform))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _deliver(
        self, work: "asyncio.Task[ChatAnswer]", url: str, platform: Platform
    ) -> None:
        payload = platform.payload(await work)
        host = urlsplit(url).hostname
        try:
            answer = await self._http.post(url, json=payload)
            if answer.status_code >= 400:
                log.warning("delayed answer refused", host=host, status=answer.status_code)
        except httpx.HTTPError as e:
            log.warning("delayed answer not delivered", host=host, error=repr(e))

    async def close(self) -> None:
        """Deliver what is still being worked on (for a few seconds at most), then stop."""
        if self._running:
            await asyncio.wait(self._running, timeout=5)
        await self._http.aclose()
