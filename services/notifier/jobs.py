"""The notifier's background job, the dispatcher: sends what is due, in batches, and records
every attempt.

Each replica runs one (a loop started by the composition root). Deliveries are claimed in
batches (a lease in Redis for each) and each is checked (a reminder of a moved, cancelled or
started session is cancelled; a non-urgent e-mail during the member's quiet hours waits; a
destination over its rate waits), then sent in waves of `concurrency`: a wave is marked
`sending` right before it leaves and its outcomes are written as soon as it is done: `delivered`,
or `retry_wait` with exponential backoff and jitter (tenacity's `wait_random_exponential`), or,
after the last attempt, `failed` with a record on `cop.dlq.notifier`.
`cop.notification.delivered.v1` / `…failed.v1` are published. A record left `sending` by a
dispatcher that died is sent again, with the same identity (see `adapters/deliveries.py`).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError
from tenacity import RetryCallState, Retrying, wait_random_exponential

from services.notifier.adapters.chat import WebhookNotAllowed, WebhookPoster
from services.notifier.adapters.deliveries import DeliveryLog, Outcome, dead_letter_value
from services.notifier.adapters.directory import Directory
from services.notifier.adapters.email import Mail, SmtpSender
from services.notifier.adapters.mime import Attachment
from services.notifier.adapters.templates import email_content
from services.notifier.domain.audience import EMAIL
from services.notifier.domain.content import Message, message
from services.notifier.domain.messages import chat_payload
from services.notifier.domain.preferences import UNSUBSCRIBE, Preferences, quiet_until
from services.notifier.settings import NotifierSettings
from shared.calendar import session_ics
from shared.documents import Doc
from shared.events.catalog import ChannelKind, NotificationDelivered, NotificationFailed
from shared.events.envelope import new_event
from shared.events.topics import dlq_topic
from shared.kafka import EventBus
from shared.metrics import count_notification
from shared.telemetry import untraced

SOURCE = "cop/notifier"
PARKED = "awaiting_address"
log = logging.getLogger(__name__)
# The `cop.notifications` outcome each final or retried state is counted as; a delivery that
# only waits (quiet hours, a rate limit) is not counted.
COUNTED = {
    "delivered": "delivered",
    "failed": "failed",
    "retry_wait": "retry",
    "unknown": "unknown",
    "cancelled": "cancelled",
    "awaiting_address": "parked",
}


@dataclass(frozen=True)
class Stores:
    """Where the dispatcher reads and records: the delivery log and what the notifier knows."""

    deliveries: DeliveryLog
    directory: Directory


@dataclass(frozen=True)
class Senders:
    """Where deliveries leave: the SMTP relay, the chat webhooks, and the chat channel every
    community posts to besides its own (if one is configured)."""

    email: SmtpSender
    chat: WebhookPoster
    default_chat: Doc | None


@dataclass(frozen=True)
class Links:
    """The base URLs of the services' pages a message links to."""

    notifier: str
    events: str
    knowledge: str
    recognition: str

    @classmethod
    def from_settings(cls, settings: NotifierSettings) -> "Links":
        s = settings
        urls = (s.notifier_url, s.events_url, s.knowledge_url, s.recognition_url)
        return cls(*(url.rstrip("/") for url in urls))  # no trailing slash: paths follow


@dataclass(frozen=True)
class Mailing:
    """What an e-mail carries besides its message: links to the services' pages, the
    organizer of its calendar invitation, and the secret its unsubscribe link is signed with."""

    links: Links
    organizer: str
    signing_secret: str


@dataclass(frozen=True)
class Limits:
    """How often and how many times: attempts, backoff, and each destination's rate (counted
    by `limiter`)."""

    max_attempts: int
    retry_base_s: float
    retry_max_s: float
    chat_rate: str  # e.g. "1/second" per webhook
    email_rate: str  # e.g. "20/second" for the SMTP relay
    limiter: MovingWindowRateLimiter

    @classmethod
    def from_settings(
        cls, settings: NotifierSettings, limiter: MovingWindowRateLimiter
    ) -> "Limits":
        return cls(
            max_attempts=settings.delivery_max_attempts,
            retry_base_s=settings.delivery_retry_base_s,
            retry_max_s=settings.delivery_retry_max_s,
            chat_rate=settings.chat_rate,
            email_rate=settings.email_rate,
            limiter=limiter,
        )


@dataclass(frozen=True)
class Known:
    """What one batch's decisions read, once: the e-mail recipients' profiles and preferences,
    and the chat channels of its communities."""

    people: dict[str, Doc]
    prefs: dict[str, Preferences]
    channels: dict[str, list[Doc]]


@dataclass(frozen=True)
class Send:
    """A delivery to send now, to an e-mail address (`profile`) or a chat channel."""

    record: Doc
    destination: str  # what its rate limit counts: the SMTP relay, or one webhook
    rate: str
    profile: Doc | None = None
    channel: Doc | None = None


@dataclass(frozen=True)
class Done:
    """A claimed delivery's outcome, and what to announce about it."""

    outcome: Outcome
    event: Literal["delivered", "failed"] | None = None
    dead_letter: bool = False
    context: otel_context.Context | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        stores: Stores,
        senders: Senders,
        mailing: Mailing,
        limits: Limits,
        bus: EventBus,
        tracer: trace.Tracer,
        concurrency: int = 64,
        batch_size: int | None = None,
    ) -> None:
        """`bus` announces the outcomes; `concurrency`: sends at once (a wave); `batch_size`:
        records claimed at once (by default one wave: what a crash leaves leased but unsent
        waits for its lease)."""
        self._log = stores.deliveries
        self._directory = stores.directory
        self._senders = senders
        self._mailing = mailing
        self._limits = limits
        self._bus = bus
        self._tracer = tracer
        self._concurrency = concurrency
        self._batch_size = batch_size or concurrency
        self._woken = asyncio.Event()
        self._stopping = False
        self._backoff = wait_random_exponential(
            multiplier=limits.retry_base_s, max=limits.retry_max_s
        )

    async def run_once(self, now: datetime | None = None) -> int:
        """Send what is due now; returns how many deliveries this round handled."""
        now = now or datetime.now(UTC)
        # The polling reads are not traced (each round would be a trace of its own); each
        # delivery's work is, in the trace of the event that caused it.
        with untraced():
            ids, keys = await self._log.due_ids(now)
        handled = 0
        for start in range(0, len(ids), self._batch_size):
            with untraced():
                claimed = await self._log.claim(ids[start : start + self._batch_size], now)
            handled += len(claimed)
            await self._dispatch(claimed, max(now, datetime.now(UTC)))
        # The cursor follows the real clock: the planner files new records under the real minute.
        with untraced():
            await self._log.advance(keys, datetime.now(UTC))
        return handled

    async def run_forever(self, interval_s: float) -> None:
        """Rounds until `stop()`: at once while there is work, else after `interval_s` or
        when woken. The loop also ends on the stop flag, not only on cancellation: a library
        that swallows a cancellation mid-round must not keep the process from stopping."""
        while not self._stopping:
            try:
                if not await self.run_once():
                    await self.idle(interval_s)
            except asyncio.CancelledError:
                raise
            except Exception:  # an outage: the schedule is durable, the next round resumes it
                log.exception("dispatching failed; retrying")
                await self.idle(interval_s * 4)

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()

    def wake(self) -> None:
        """Something is due now (the planner just planned it): the next round starts at once."""
        self._woken.set()

    async def idle(self, timeout_s: float) -> None:
        """Between rounds with nothing to send: until woken, or `timeout_s` (what other
        replicas planned, and what falls due later, is found by the next round)."""
        # asyncio.timeout, not wait_for: on Python 3.11 a cancelled wait_for around the event's
        # wait was seen to keep waiting for its timeout (a notifier that did not stop).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._woken.wait()
        if not self._stopping:
            self._woken.clear()

    async def _dispatch(self, records: list[Doc], now: datetime) -> None:
        """Decide, send and record one batch of claimed deliveries. What the decisions need is
        read once for the batch; what is settled without sending is written at once; the sends
        go in waves of `concurrency`, each marked `sending` right before it leaves and its
        outcomes written as soon as the wave is done (what a crash can leave in doubt is one
        wave, and that is sent again with the same identity)."""
        if not records:
            return
        known = await self._known(records)
        done: list[Done] = []
        sends: list[Send] = []
        for record in records:
            decided = await self._decided(record, known, now)
            if isinstance(decided, Send):
                sends.append(decided)
            else:
                done.append(decided)
        admitted, over_rate = await self._admit(sends, now)
        await self._settle(done + over_rate, now)
        for start in range(0, len(admitted), self._concurrency):
            wave = admitted[start : start + self._concurrency]
            await self._log.mark_sending([item.record for item in wave], datetime.now(UTC))
            sent = await asyncio.gather(*(self._send(item, now) for item in wave))
            await self._settle(sent, datetime.now(UTC))

    async def _settle(self, done: list[Done], now: datetime) -> None:
        """Write the outcomes, count them and announce them."""
        if not done:
            return
        await self._log.finish([d.outcome for d in done], now)
        for d in done:
            if counted := COUNTED.get(d.outcome.state):
                count_notification(d.outcome.record["channel_kind"], counted)
        await asyncio.gather(*(self._announce(d, now) for d in done if d.event))
        parked = {d.outcome.record["member_id"] for d in done if d.outcome.state == PARKED}
        if parked:
            await self._release_addressed(parked)

    async def _release_addressed(self, member_ids: set[str]) -> None:
        """Deliveries just parked for want of an address whose member's profile arrived in the
        meantime: its handler released what was parked then, and kept these listed while they
        were still being decided. Read after the parking, the profile is seen here, or its
        handler runs after the parking and releases them itself."""
        for member_id, profile in (await self._directory.people(member_ids)).items():
            if profile.get("email"):
                await self._log.release_awaiting(member_id, datetime.now(UTC))

    async def _decided(self, record: Doc, known: Known, now: datetime) -> "Send | Done":
        """`_decide`, with a record that cannot be decided (its content is not what this
        version expects) failed on its own: the rest of the batch flows. An outage is raised
        (the next round retries; nothing was marked)."""
        try:
            return await self._decide(record, known, now)
        except (PyMongoError, RedisError, OSError):
            raise
        except Exception as e:
            log.exception("delivery %s cannot be decided; failed", record["_id"])
            reason = f"cannot be sent: {type(e).__name__}: {e}"[:2000]
            return Done(Outcome(record, "failed", error=reason), event="failed", dead_letter=True)

    async def _known(self, records: list[Doc]) -> Known:
        members = {r["member_id"] for r in records if r["channel_kind"] == EMAIL}
        communities = {r["community_id"] for r in records if r["channel_kind"] != EMAIL}
        channels = {c: await self._directory.community_channels(c) for c in communities}
        return Known(
            people=await self._directory.people(members) if members else {},
            prefs=await self._directory.prefs(members) if members else {},
            channels=channels,
        )

    async def _decide(self, record: Doc, known: Known, now: datetime) -> "Send | Done":
        """What can be settled without sending, or what to send and where."""
        if record.get("interrupted") and record["attempt"] > self._limits.max_attempts:
            error = "outcome unknown: the notifier stopped while sending the last attempt"
            return Done(Outcome(record, "unknown", error=error), event="failed")
        if record["kind"] == "reminder" and (stale := await self._reminder_stale(record, now)):
            return Done(Outcome(record, "cancelled", error=stale))
        if record["channel_kind"] == EMAIL:
            member = record["member_id"]
            profile = known.people.get(member)
            if not record.get("urgent"):
                prefs = known.prefs.get(member, Preferences())
                held = quiet_until(prefs, (profile or {}).get("timezone"), now)
                if held:
                    return Done(Outcome(record, "held", due_at=held, counted=False))
            if not profile or not profile.get("email"):
                return Done(Outcome(record, PARKED, counted=False))
            return Send(record, "smtp", self._limits.email_rate, profile=profile)
        channels = known.channels.get(record["community_id"], [])
        if self._senders.default_chat:
            channels = [*channels, self._senders.default_chat]
        channel = next((c for c in channels if c["id"] == record["channel"]), None)
        if channel is None:
            return Done(Outcome(record, "cancelled", error="the channel was removed"))
        return Send(record, f"chat:{channel['url']}", self._limits.chat_rate, channel=channel)

    async def _reminder_stale(self, record: Doc, now: datetime) -> str | None:
        """Why a reminder is not sent: its session was cancelled or moved, or has started
        (a reminder after the start is noise, whatever made it late)."""
        context = record["context"]
        session = await self._directory.session(context["session"]["session_id"])
        if not session or session.get("status") == "cancelled":
            return "the session was cancelled"
        if session.get("sequence") != context["sequence"]:
            return "the session moved"
        if datetime.fromisoformat(str(session["starts_at"])) <= now:
            return "the session has started"
        return None

    async def _admit(self, sends: list[Send], now: datetime) -> tuple[list[Send], list[Done]]:
        """Each destination takes what its rate leaves room for now; the rest wait a second
        (not an attempt). One window read and one hit per destination and batch."""
        by_destination: dict[str, list[Send]] = {}
        for item in sends:
            by_destination.setdefault(item.destination, []).append(item)
        admitted: list[Send] = []
        waiting: list[Done] = []
        for destination, items in by_destination.items():
            rate = parse(items[0].rate)
            stats = await self._limits.limiter.get_window_stats(rate, "notifier", destination)
            room = min(len(items), max(stats.remaining, 0))
            if room and not await self._limits.limiter.hit(
                rate, "notifier", destination, cost=room
            ):
                room = 0
            admitted += items[:room]
            later = now + timedelta(seconds=1)
            waiting += [
                Done(Outcome(i.record, "queued", due_at=later, counted=False)) for i in items[room:]
            ]
        return admitted, waiting

    async def _send(self, item: Send, now: datetime) -> Done:
        record = item.record
        parent = propagate.extract(record.get("trace") or {})
        with self._tracer.start_as_current_span(
            f"notifier deliver {record['kind']}",
            context=parent,
            attributes={
                "cop.delivery_id": record["_id"],
                "cop.channel_kind": record["channel_kind"],
            },
        ):
            context = otel_context.get_current()
            try:
                if item.profile is not None:
                    await self._senders.email.send(await self._mail(record, item.profile, now))
                else:
                    await self._post(record, item.channel or {})
            except WebhookNotAllowed as e:
                return self._attempt_failed(record, e, now, context, last=True)
            except Exception as e:  # refused, timed out, unreachable: an attempt that failed
                return self._attempt_failed(record, e, now, context)
            return Done(Outcome(record, "delivered"), event="delivered", context=context)

    # --- e-mail ---------------------------------------------------------------------------

    async def _mail(self, record: Doc, profile: Doc, now: datetime) -> Mail:
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
        unsubscribe = f"{self._mailing.links.notifier}/unsubscribe?token={token}"
        content = email_content(
            said,
            name=str(profile.get("name") or member),
            community_id=community,
            preferences_url=f"{self._mailing.links.notifier}/members/{member}/preferences",
            unsubscribe_url=unsubscribe,
        )
        method = {
            "session_scheduled": "REQUEST",
            "session_rescheduled": "REQUEST",
            "session_cancelled": "CANCEL",
        }.get(record["kind"])
        calendar = None
        if method:
            session = context["session"]
            ics = session_ics(
                session,
                method=method,
                sequence=int(session.get("sequence", 0)),
                organizer=_address(self._mailing.organizer),
                attendee=profile["email"],
                stamp=now,
            )
            calendar = Attachment(
                ics, f'text/calendar; charset="utf-8"; method={method}', "invite.ics"
            )
        return self._senders.email.build(
            to_name=str(profile.get("name") or member),
            to_email=profile["email"],
            content=content,
            notification_id=record["_id"],
            headers=(
                ("List-Unsubscribe", f"<{unsubscribe}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
            attachment=calendar,
        )

    def unsubscribe_token(self, member_id: str, community_id: str) -> str:
        claims = {"sub": member_id, "community": community_id, "purpose": UNSUBSCRIBE}
        return jwt.encode(claims, self._mailing.signing_secret, algorithm="HS256")

    def _urls(self, context: Doc) -> dict[str, str]:
        session = (context.get("session") or {}).get("session_id", "")
        artifact = (context.get("artifact") or {}).get("artifact_id", "")
        community = (context.get("alert") or {}).get("community_id", "")
        links = self._mailing.links
        return {
            "minutes": f"{links.knowledge}/sessions/{session}/minutes",
            "feedback": f"{links.events}/sessions/{session}#feedback",
            "artifact": f"{links.knowledge}/artifacts/{artifact}",
            "health": f"{links.recognition}/communities/{community}/health",
        }

    # --- chat -----------------------------------------------------------------------------

    async def _post(self, record: Doc, channel: Doc) -> None:
        said: Message = message(record["kind"], record["context"], self._urls(record["context"]))
        event = {
            "id": record["cause_event_id"],
            "type": record["cause_type"],
            "data": record["context"],
        }
        await self._senders.chat.post(
            channel["url"],
            chat_payload(channel["kind"], said.chat(), event=event, channel=channel.get("channel")),
            channel_kind=channel["kind"],
            sign_body=channel["kind"] == "webhook",
            secret=channel.get("secret"),
            idempotency_key=record["_id"],
        )

    # --- outcomes -------------------------------------------------------------------------

    def _attempt_failed(
        self,
        record: Doc,
        error: Exception,
        now: datetime,
        context: otel_context.Context,
        *,
        last: bool = False,
    ) -> Done:
        reason = f"{type(error).__name__}: {error}"[:2000]
        if not last and record["attempt"] < self._limits.max_attempts:
            state = RetryCallState(Retrying(), None, (), {})  # the wait reads the attempt alone
            state.attempt_number = record["attempt"]
            later = now + timedelta(seconds=self._backoff(state))
            return Done(Outcome(record, "retry_wait", error=reason, due_at=later), context=context)
        log.warning(
            "delivery %s failed after %d attempts: %s", record["_id"], record["attempt"], reason
        )
        outcome = Outcome(record, "failed", error=reason)
        return Done(outcome, event="failed", dead_letter=True, context=context)

    async def _announce(self, done: Done, now: datetime) -> None:
        """`cop.notification.delivered.v1` / `…failed.v1` (and the dead letter of a delivery
        that gave up), in the trace of the delivery."""
        record, reason = done.outcome.record, done.outcome.error or ""
        parent = done.context or propagate.extract(record.get("trace") or {})
        token = otel_context.attach(parent)
        try:
            if done.dead_letter:
                await self._bus.broker.publish(
                    dead_letter_value(record),
                    self._bus.topic(dlq_topic("notifier")),
                    key=record["_id"].encode(),
                    headers={
                        "cop_error": reason,
                        "cop_service": "notifier",
                        "cop_delivery_id": record["_id"],
                        "cop_failed_at": now.isoformat(),
                    },
                )
            if done.event == "delivered":
                delivered = NotificationDelivered(**self._outcome(record))
                await self._bus.publish(new_event(delivered, source=SOURCE))
            else:
                failed = NotificationFailed(**self._outcome(record), error=reason)
                await self._bus.publish(new_event(failed, source=SOURCE))
        finally:
            otel_context.detach(token)

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
