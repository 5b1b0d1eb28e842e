"""The dispatcher: sends what is due, one delivery at a time, and records every attempt.

Each replica runs one (a loop started by the composition root). A delivery is claimed (a lease
in Redis), checked (a reminder of a moved or cancelled session is cancelled; a non-urgent e-mail
during the member's quiet hours waits; a destination over its rate waits), sent, and settled:
`delivered`, or `retry_wait` with exponential backoff and jitter (tenacity's
`wait_random_exponential`), or, after the last attempt, `failed` with a record on
`cop.dlq.notifier`. `cop.notification.delivered.v1` / `…failed.v1` are published.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import jwt
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from opentelemetry import propagate, trace
from tenacity import RetryCallState, wait_random_exponential

from services.notifier.adapters.chat import WebhookNotAllowed, WebhookPoster
from services.notifier.adapters.deliveries import DeliveryLog, dead_letter_value
from services.notifier.adapters.directory import Directory
from services.notifier.adapters.email import SmtpSender
from services.notifier.adapters.ical import invite
from services.notifier.adapters.templates import email_content
from services.notifier.domain.audience import EMAIL
from services.notifier.domain.content import Message, message
from services.notifier.domain.messages import chat_payload
from services.notifier.domain.preferences import Preferences, quiet_until
from shared.events.catalog import ChannelKind, NotificationDelivered, NotificationFailed
from shared.events.envelope import new_event
from shared.kafka import EventBus

SOURCE = "cop/notifier"
UNSUBSCRIBE = "unsubscribe"
log = logging.getLogger(__name__)
Doc = dict[str, Any]


@dataclass(frozen=True)
class Links:
    notifier: str
    events: str
    knowledge: str
    recognition: str


@dataclass(frozen=True)
class Limits:
    max_attempts: int
    retry_base_s: float
    retry_max_s: float
    chat_rate: str  # e.g. "1/second" per webhook
    email_rate: str  # e.g. "20/second" for the SMTP relay


class Dispatcher:
    def __init__(
        self,
        *,
        deliveries: DeliveryLog,
        directory: Directory,
        bus: EventBus,
        email: SmtpSender,
        chat: WebhookPoster,
        limiter: MovingWindowRateLimiter,
        links: Links,
        limits: Limits,
        organizer: str,
        signing_secret: str,
        default_chat: Doc | None,
        tracer: trace.Tracer,
        concurrency: int = 16,
    ) -> None:
        self._log = deliveries
        self._concurrency = concurrency
        self._directory = directory
        self._bus = bus
        self._email = email
        self._chat = chat
        self._limiter = limiter
        self._links = links
        self._limits = limits
        self._organizer = organizer
        self._secret = signing_secret
        self._default_chat = default_chat
        self._tracer = tracer
        self._backoff = wait_random_exponential(
            multiplier=limits.retry_base_s, max=limits.retry_max_s
        )

    async def run_once(self, now: datetime | None = None) -> int:
        """Send what is due now; returns how many deliveries this round handled."""
        now = now or datetime.now(UTC)
        ids, keys = await self._log.due_ids(now)
        handled = 0
        for start in range(0, len(ids), self._concurrency):
            claimed = [
                record
                for record in await asyncio.gather(
                    *(self._log.claim(i, now) for i in ids[start : start + self._concurrency])
                )
                if record is not None
            ]
            handled += len(claimed)
            await asyncio.gather(*(self._handle(r, max(now, datetime.now(UTC))) for r in claimed))
        # The cursor follows the real clock: the planner files new records under the real minute.
        await self._log.advance(keys, datetime.now(UTC))
        return handled

    async def _handle(self, record: Doc, now: datetime) -> None:
        parent = propagate.extract(record.get("trace") or {})
        with self._tracer.start_as_current_span(
            f"notifier deliver {record['kind']}",
            context=parent,
            attributes={
                "cop.delivery_id": record["_id"],
                "cop.channel_kind": record["channel_kind"],
            },
        ):
            await self._deliver(record, now)

    async def _deliver(self, record: Doc, now: datetime) -> None:
        if record.get("abandoned"):
            error = "outcome unknown: the notifier stopped while sending; not sent again"
            await self._log.settle(record, "unknown", now, error=error)
            await self._publish_failed(record, error)
            return
        if record["kind"] == "reminder" and not await self._reminder_stands(record):
            await self._log.settle(
                record, "cancelled", now, error="the session moved or was cancelled"
            )
            return
        if record["channel_kind"] == EMAIL:
            await self._email_one(record, now)
        else:
            await self._chat_one(record, now)

    async def _reminder_stands(self, record: Doc) -> bool:
        context = record["context"]
        session = await self._directory.session(context["session"]["session_id"])
        return bool(
            session
            and session.get("status") != "cancelled"
            and session.get("sequence") == context["sequence"]
        )

    # --- e-mail ---------------------------------------------------------------------------

    async def _email_one(self, record: Doc, now: datetime) -> None:
        member = record["member_id"]
        profile = (await self._directory.people([member])).get(member)
        prefs = (await self._directory.prefs([member])).get(member, Preferences())
        if not record.get("urgent"):
            held = quiet_until(prefs, (profile or {}).get("timezone"), now)
            if held:
                await self._log.defer(record, held, now, state="held")
                return
        if not profile or not profile.get("email"):
            await self._log.park(record, now)
            return
        if not await self._within_rate("smtp", self._limits.email_rate):
            await self._log.defer(record, now + timedelta(seconds=1), now, state="queued")
            return
        try:
            mail = await self._mail(record, profile, now)
            await self._email.send(mail)
        except Exception as e:  # SMTP refused, timed out, unreachable: an attempt that failed
            await self._attempt_failed(record, e, now)
            return
        await self._log.settle(record, "delivered", now)
        await self._publish_delivered(record)

    async def _mail(self, record: Doc, profile: Doc, now: datetime) -> EmailMessage:
        member, community = record["member_id"], record["community_id"]
        context = dict(record["context"])
        if record["kind"] == "digest":
            context["items"] = [
                {
                    "at": i["at"],
                    "subject": message(i["kind"], i["context"], self._urls(i["context"])).subject,
                }
                for i in await self._log.digest_items(context["digest_id"])
            ]
        said = message(record["kind"], context, self._urls(context))
        token = self.unsubscribe_token(member, community)
        unsubscribe = f"{self._links.notifier}/unsubscribe?token={token}"
        content = email_content(
            said,
            name=str(profile.get("name") or member),
            community_id=community,
            preferences_url=f"{self._links.notifier}/members/{member}/preferences",
            unsubscribe_url=unsubscribe,
        )
        mail = self._email.build(
            to_name=str(profile.get("name") or member),
            to_email=profile["email"],
            content=content,
            notification_id=record["_id"],
        )
        mail["List-Unsubscribe"] = f"<{unsubscribe}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        method = {
            "session_scheduled": "REQUEST",
            "session_rescheduled": "REQUEST",
            "session_cancelled": "CANCEL",
        }.get(record["kind"])
        if method:
            session = context["session"]
            ics = invite(
                session,
                method=method,
                sequence=int(session.get("sequence", 0)),
                organizer=_address(self._organizer),
                attendee=profile["email"],
                stamp=now,
            )
            mail.add_attachment(
                ics,
                maintype="text",
                subtype="calendar",
                filename="invite.ics",
                params={"method": method},
            )
        return mail

    def unsubscribe_token(self, member_id: str, community_id: str) -> str:
        claims = {"sub": member_id, "community": community_id, "purpose": UNSUBSCRIBE}
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def _urls(self, context: Doc) -> dict[str, str]:
        session = (context.get("session") or {}).get("session_id", "")
        artifact = (context.get("artifact") or {}).get("artifact_id", "")
        community = (context.get("alert") or {}).get("community_id", "")
        return {
            "minutes": f"{self._links.knowledge}/sessions/{session}/minutes",
            "feedback": f"{self._links.events}/sessions/{session}#feedback",
            "artifact": f"{self._links.knowledge}/artifacts/{artifact}",
            "health": f"{self._links.recognition}/communities/{community}/health",
        }

    # --- chat -----------------------------------------------------------------------------

    async def _chat_one(self, record: Doc, now: datetime) -> None:
        channel = await self._channel(record["community_id"], record["channel"])
        if channel is None:
            await self._log.settle(record, "cancelled", now, error="the channel was removed")
            return
        if not await self._within_rate(f"chat:{channel['url']}", self._limits.chat_rate):
            await self._log.defer(record, now + timedelta(seconds=1), now, state="queued")
            return
        said: Message = message(record["kind"], record["context"], self._urls(record["context"]))
        event = {
            "id": record["cause_event_id"],
            "type": record["cause_type"],
            "data": record["context"],
        }
        payload = chat_payload(channel["kind"], said.chat(), event=event)
        try:
            await self._chat.post(
                channel["url"],
                payload,
                sign_body=channel["kind"] == "webhook",
                secret=channel.get("secret"),
                idempotency_key=record["_id"],
            )
        except WebhookNotAllowed as e:
            await self._attempt_failed(record, e, now, last=True)
            return
        except Exception as e:
            await self._attempt_failed(record, e, now)
            return
        await self._log.settle(record, "delivered", now)
        await self._publish_delivered(record)

    async def _channel(self, community_id: str, channel_id: str) -> Doc | None:
        channels = await self._directory.community_channels(community_id)
        if self._default_chat:
            channels = [*channels, self._default_chat]
        return next((c for c in channels if c["id"] == channel_id), None)

    async def _within_rate(self, destination: str, rate: str) -> bool:
        return bool(await self._limiter.hit(parse(rate), "notifier", destination))

    # --- outcomes -------------------------------------------------------------------------

    async def _attempt_failed(
        self, record: Doc, error: Exception, now: datetime, *, last: bool = False
    ) -> None:
        reason = f"{type(error).__name__}: {error}"[:2000]
        if not last and record["attempt"] < self._limits.max_attempts:
            state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
            state.attempt_number = record["attempt"]
            wait_s = self._backoff(state)
            await self._log.settle(
                record, "retry_wait", now, error=reason, due_at=now + timedelta(seconds=wait_s)
            )
            return
        log.warning(
            "delivery %s failed after %d attempts: %s", record["_id"], record["attempt"], reason
        )
        await self._log.settle(record, "failed", now, error=reason)
        await self._bus.broker.publish(
            dead_letter_value(record),
            self._bus.topic("cop.dlq.notifier"),
            key=record["_id"].encode(),
            headers={
                "cop_error": reason,
                "cop_service": "notifier",
                "cop_delivery_id": record["_id"],
                "cop_failed_at": now.isoformat(),
            },
        )
        await self._publish_failed(record, reason)

    async def _publish_delivered(self, record: Doc) -> None:
        await self._bus.publish(
            new_event(NotificationDelivered(**self._outcome(record)), source=SOURCE)
        )

    async def _publish_failed(self, record: Doc, reason: str) -> None:
        await self._bus.publish(
            new_event(NotificationFailed(**self._outcome(record), error=reason), source=SOURCE)
        )

    @staticmethod
    def _outcome(record: Doc) -> Doc:
        kind = record["channel_kind"]
        return {
            "notification_id": record["_id"][:128],
            "member_id": record.get("member_id"),
            "channel": record.get("channel"),
            "channel_kind": ChannelKind(kind),
            "cause_event_id": record["cause_event_id"][:128],
            "attempt": max(record.get("attempt", 1), 1),
        }


def _address(mail_from: str) -> str:
    """`Name <a@b>` -> `a@b`."""
    return mail_from.rpartition("<")[2].rstrip(">").strip() or mail_from
