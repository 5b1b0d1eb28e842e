"""The notifier's use cases: keep contact profiles, turn domain events into deliveries."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from tenacity import (
    AsyncRetrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from services.notifier.adapters.chat import WebhookNotAllowed, WebhookPoster
from services.notifier.adapters.email import SmtpSender
from services.notifier.adapters.store import NotifierStore
from services.notifier.adapters.templates import kudos_email
from services.notifier.domain.messages import chat_payload, kudos_chat
from shared.events.catalog import (
    ChannelKind,
    KudosGiven,
    MemberProfileUpdated,
    NotificationDelivered,
    NotificationFailed,
)
from shared.events.envelope import new_event
from shared.kafka import EventBus
from shared.messagebus import Fact, UnitOfWork

SOURCE = "cop/notifier"
COMMUNITY_CHANNEL = "community-chat"
log = logging.getLogger(__name__)


class NotifierHandlers:
    def __init__(
        self,
        *,
        bus: EventBus,
        store: NotifierStore,
        email: SmtpSender,
        chat: WebhookPoster,
        chat_url: str | None,
        chat_kind: str,
        platform_url: str,
        tracer: trace.Tracer,
        delivery_attempts: int = 3,
    ) -> None:
        self._bus = bus
        self.store = store
        self._email = email
        self._chat = chat
        self._chat_url = chat_url
        self._chat_kind = chat_kind
        self._platform_url = platform_url.rstrip("/")
        self.tracer = tracer
        self._delivery_attempts = delivery_attempts

    async def profile_updated(self, fact: Fact[MemberProfileUpdated], _: UnitOfWork) -> None:
        profile = fact.data
        fields = {**profile.model_dump(mode="json"), "event_id": fact.event_id}
        if await self.store.save_profile_if_newer(profile.member_id, fields, fact.time):
            await self._send_awaiting(profile.member_id)

    async def kudos_given(self, fact: Fact[KudosGiven], _: UnitOfWork) -> None:
        await self._on_kudos(fact.event_id, fact.data)

    async def _on_kudos(self, event_id: str, kudos: KudosGiven) -> None:
        recipients = [m for m in dict.fromkeys(kudos.to_ids) if m != kudos.from_id]
        people = await self.store.profiles([kudos.from_id, *recipients])
        giver = _name(people.get(kudos.from_id), kudos.from_id)
        for member in recipients:
            delivery_id = f"{event_id}:{member}:email"
            record = {
                "member_id": member,
                "channel_kind": ChannelKind.EMAIL.value,
                "cause_event_id": event_id,
                "cause_type": "cop.kudos.given.v1",
                "kudos": kudos.model_dump(mode="json"),
            }
            claimed = await self.store.claim(delivery_id, record)
            if claimed is not None:
                await self._email_kudos(claimed, people.get(member), giver)
        if self._chat_url:
            await self._chat_kudos(
                event_id, kudos, giver, [_name(people.get(m), m) for m in recipients]
            )

    async def _email_kudos(
        self, delivery: dict[str, Any], profile: dict[str, Any] | None, giver: str
    ) -> None:
        delivery_id, member = delivery["_id"], delivery["member_id"]
        if not profile or not profile.get("email"):
            await self.store.park_for_address(delivery_id, member)
            # The profile may have been saved by another instance between our read and the
            # parking above, after it looked for parked deliveries: look once more.
            profile = (await self.store.profiles([member])).get(member)
            if not profile or not profile.get("email"):
                log.info("no e-mail address for %s yet; %s waits for it", member, delivery_id)
                return
        kudos = KudosGiven.model_validate(delivery["kudos"])
        content = kudos_email(
            kudos,
            recipient_name=_name(profile, member),
            giver_name=giver,
            profile_url=f"{self._platform_url}/members/{member}/kudos",
        )
        message = self._email.build(
            to_name=_name(profile, member),
            to_email=profile["email"],
            content=content,
            notification_id=delivery_id,
        )
        try:
            await self._attempts(lambda: self._email.send(message))
        except Exception as e:
            await self._failed(delivery, ChannelKind.EMAIL, e)
            return
        await self._delivered(delivery, ChannelKind.EMAIL)

    async def _chat_kudos(
        self, event_id: str, kudos: KudosGiven, giver: str, recipient_names: list[str]
    ) -> None:
        if self._chat_url is None:
            return
        delivery_id = f"{event_id}:{COMMUNITY_CHANNEL}:{self._chat_kind}"
        record = {
            "member_id": None,
            "channel": COMMUNITY_CHANNEL,
            "channel_kind": self._chat_kind,
            "cause_event_id": event_id,
            "cause_type": "cop.kudos.given.v1",
            "community_id": kudos.community_id,
        }
        delivery = await self.store.claim(delivery_id, record)
        if delivery is None:
            return
        content = kudos_chat(kudos, giver_name=giver, recipient_names=recipient_names)
        payload = chat_payload(
            self._chat_kind,
            content,
            event={
                "id": event_id,
                "type": "cop.kudos.given.v1",
                "data": kudos.model_dump(mode="json"),
            },
        )
        chat_url = self._chat_url
        try:
            await self._attempts(
                lambda: self._chat.post(chat_url, payload, sign_body=self._chat_kind == "webhook")
            )
        except Exception as e:
            await self._failed(delivery, ChannelKind(self._chat_kind), e)
            return
        await self._delivered(delivery, ChannelKind(self._chat_kind))

    async def _attempts(self, send: Callable[[], Awaitable[None]]) -> None:
        """A few quick attempts, so that an unreachable relay or webhook never holds a partition.

        A configuration error (a webhook host outside the allowlist) is not retried.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._delivery_attempts),
            wait=wait_exponential(multiplier=0.2, max=2),
            retry=retry_if_not_exception_type(WebhookNotAllowed),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await send()

    async def _send_awaiting(self, member_id: str) -> None:
        waiting = await self.store.awaiting_address(member_id)
        if not waiting:
            return
        for delivery in waiting:
            kudos = KudosGiven.model_validate(delivery["kudos"])
            people = await self.store.profiles([kudos.from_id, member_id])
            claimed = await self.store.claim(delivery["_id"], {})
            if claimed is not None:
                giver = _name(people.get(kudos.from_id), kudos.from_id)
                await self._email_kudos(claimed, people.get(member_id), giver)

    async def _delivered(self, delivery: dict[str, Any], kind: ChannelKind) -> None:
        await self.store.set_status(delivery["_id"], "delivered")
        await self._bus.publish(
            new_event(
                NotificationDelivered(
                    notification_id=delivery["_id"],
                    member_id=delivery.get("member_id"),
                    channel=delivery.get("channel"),
                    channel_kind=kind,
                    cause_event_id=delivery["cause_event_id"],
                    attempt=delivery["attempt"],
                ),
                source=SOURCE,
            ),
        )

    async def _failed(self, delivery: dict[str, Any], kind: ChannelKind, error: Exception) -> None:
        """Record a delivery that failed after its attempts; the consumer moves on."""
        reason = f"{type(error).__name__}: {error}"[:2000]
        log.warning("delivery %s failed: %s", delivery["_id"], reason)
        await self.store.set_status(delivery["_id"], "failed", reason)
        await self._bus.publish(
            new_event(
                NotificationFailed(
                    notification_id=delivery["_id"],
                    member_id=delivery.get("member_id"),
                    channel=delivery.get("channel"),
                    channel_kind=kind,
                    cause_event_id=delivery["cause_event_id"],
                    attempt=delivery["attempt"],
                    error=reason,
                ),
                source=SOURCE,
            ),
        )


def _name(profile: dict[str, Any] | None, fallback: str) -> str:
    return str(profile.get("name") or fallback) if profile else fallback
