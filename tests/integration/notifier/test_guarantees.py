"""The notifier's delivery guarantees against the real infrastructure (see docs/notifier.md):
signed webhook posts, the host allowlist, retries with backoff then the DLQ and an operator's
retry, a burst held to a webhook's rate, nothing sent twice on redelivery or replay, and the
state machine at its crash points.

Chat posts go to a receiver in the test process (`receivers.py`) that can fail on purpose and
records when each post arrived; e-mails go to the SMTP sink of `tests/sinks.py`.
"""

import contextlib
import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from copctl.replay import replay
from services.notifier import rebuild
from services.notifier.adapters.deliveries import minute_key, minute_of
from services.notifier.adapters.directory import Directory
from services.notifier.bootstrap import bootstrap
from services.notifier.jobs import Dispatcher
from services.notifier.settings import LOCAL_CHAT_WEBHOOK_SECRET, NotifierSettings
from shared.documents import Doc
from shared.events.catalog import (
    KudosJudged,
    MemberJoined,
    MemberProfileUpdated,
    SessionScheduled,
)
from shared.events.envelope import CloudEvent, new_event
from shared.events.topics import Topic
from shared.lag import GroupLag
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for
from tests.integration.kafka_io import body, headers, produce_events, read_all
from tests.integration.notifier.receivers import Receiver, running_receiver
from tests.integration.polling import eventually
from tests.problems import problem_of
from tests.sinks import Sinks

pytestmark = pytest.mark.integration
FAST_RETRIES = {"delivery_retry_base_s": 0.05, "delivery_retry_max_s": 0.2}
IDLE_LOOP = {"dispatch_interval_s": 600.0}  # the background loop sleeps: the test drives run_once


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def make_settings(
    infra: Infrastructure, sinks: Sinks, receiver: Receiver, unique: str
) -> AsyncIterator[Callable[..., NotifierSettings]]:
    """Settings of a notifier of this test: e-mail to the test's SMTP sink, the default chat
    channel to the test's receiver (`/hooks/default`) unless overridden. Its database is dropped
    at the end."""
    made: list[NotifierSettings] = []

    def make(**overrides: Any) -> NotifierSettings:
        values = {
            "smtp_port": sinks.smtp_port,
            "chat_webhook_url": receiver.url_for("/hooks/default"),
            **overrides,
        }
        settings: NotifierSettings = settings_for(NotifierSettings, infra, f"ntg{unique}", **values)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        await drop_database(infra, settings.mongodb_database)


@dataclass
class Notifier:
    app: FastAPI
    client: httpx.AsyncClient
    settings: NotifierSettings
    infra: Infrastructure

    async def send(self, *events: CloudEvent) -> None:
        await produce_events(
            self.infra.kafka_bootstrap_servers, self.settings.kafka_topic_prefix, list(events)
        )

    async def deliveries(self, cause_event_id: str) -> list[Doc]:
        response = await self.client.get("/deliveries", params={"cause_event_id": cause_event_id})
        assert response.status_code == 200, response.text
        items: list[Doc] = response.json()["items"]
        return items

    async def delivery(self, delivery_id: str, cause_event_id: str) -> Doc | None:
        found = await self.deliveries(cause_event_id)
        return next((d for d in found if d["delivery_id"] == delivery_id), None)

    async def wait_state(
        self, delivery_id: str, cause_event_id: str, state: str, *, timeout_s: float = 20.0
    ) -> Doc:
        seen: list[Doc | None] = [None]

        async def reached() -> Doc | None:
            seen[0] = await self.delivery(delivery_id, cause_event_id)
            return seen[0] if seen[0] is not None and seen[0]["state"] == state else None

        try:
            return await eventually(
                reached, timeout_s=timeout_s, what=f"delivery {delivery_id} {state}"
            )
        except AssertionError as e:
            raise AssertionError(f"{e}; the record as last seen: {seen[0]!r}") from None

    async def profiles_known(self, *members: str) -> None:
        async def known() -> bool:
            found = [await self.client.get(f"/profiles/{m}") for m in members]
            return all(r.status_code == 200 for r in found)

        await eventually(known, what=f"the profiles of {members} in the notifier")

    def topic(self, name: str) -> str:
        return self.settings.kafka_topic_prefix + name

    async def put_channel(
        self, community: str, channel_id: str, kind: str, url: str
    ) -> httpx.Response:
        """Give a community one chat channel (in place of those it had)."""
        return await self.client.put(
            f"/communities/{community}/channels",
            json={"channels": [{"id": channel_id, "kind": kind, "url": url}]},
        )

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher: Dispatcher = self.app.state.dispatcher
        return dispatcher


@contextlib.asynccontextmanager
async def running(infra: Infrastructure, settings: NotifierSettings) -> AsyncIterator[Notifier]:
    app = bootstrap(settings)
    async with serving(app, "notifier") as client:
        yield Notifier(app, client, settings, infra)


@contextlib.asynccontextmanager
async def database(
    infra: Infrastructure, settings: NotifierSettings
) -> AsyncIterator[AsyncDatabase[Doc]]:
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        yield mongo[settings.mongodb_database]
    finally:
        await mongo.close()


async def cursor_stands_at(db: AsyncDatabase[Doc], minute: str, *, naming: str) -> None:
    """The bucket of `minute` names the delivery `naming`; the dispatch cursor stands there."""
    await db["delivery_due"].update_one(
        {"_id": minute}, {"$addToSet": {"ids": naming}}, upsert=True
    )
    await db["dispatch_cursor"].update_one(
        {"_id": "cursor"}, {"$set": {"minute": minute}}, upsert=True
    )


async def cursor_after_a_round(notifier: Notifier, db: AsyncDatabase[Doc], minute: str) -> str:
    """Where the dispatch cursor stands after a round run three minutes after `minute`."""
    await notifier.dispatcher.run_once(now=minute_of(minute) + timedelta(minutes=3))
    cursor = await db["dispatch_cursor"].find_one({"_id": "cursor"})
    assert cursor is not None
    return str(cursor["minute"])


def member() -> str:
    return f"m{uuid.uuid4().hex[:8]}"


def profile(who: str, name: str) -> CloudEvent:
    return new_event(
        MemberProfileUpdated(member_id=who, name=name, email=f"{who}@example.com"),
        source="test/directory",
    )


def kudos(community: str, giver: str, *receivers: str, message: str = "Thanks!") -> CloudEvent:
    """A kudos as recognition judged it (keyed by community: one community, one partition)."""
    return new_event(
        KudosJudged(
            kudos_id=f"k-{uuid.uuid4().hex[:8]}",
            from_id=giver,
            community_id=community,
            message=message,
            value_tag="knowledge_sharing",
            period="2026-11",
            recipients=[{"member_id": r, "verdict": "counted"} for r in receivers],
        ),
        source="test/recognition",
    )


def chat_id(event: CloudEvent, channel: str = "default") -> str:
    return f"{event.id}:channel-{channel}:chat"


def email_id(event: CloudEvent, who: str) -> str:
    return f"{event.id}:{who}:email"


def outcomes(attempts: list[Doc]) -> list[str]:
    return [a["outcome"] for a in attempts]


async def notification_events(notifier: Notifier, delivery_id: str, expect: int) -> list[Doc]:
    records = await read_all(
        notifier.infra.kafka_bootstrap_servers,
        notifier.topic(str(Topic.NOTIFICATIONS)),
        expect=expect,
        timeout_s=10,
    )
    return [body(r) for r in records if body(r)["data"]["notification_id"] == delivery_id[:128]]


def posts_about(receiver: Receiver, path: str, event: CloudEvent) -> list[Any]:
    return [
        a for a in receiver.arrivals(path) if (a.json().get("event") or {}).get("id") == event.id
    ]


def mail_ids(sinks: Sinks, address: str) -> list[str]:
    return [str(m["X-Cop-Notification-Id"]) for m in sinks.mails_to(address)]


# --- 1. signed webhook posts ------------------------------------------------------------------


async def test_a_webhook_channel_post_is_signed_with_its_generated_secret(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], receiver: Receiver
) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    async with running(infra, make_settings()) as notifier:
        put = await notifier.put_channel(
            community, "ops-hook", "webhook", receiver.url_for("/hooks/signed")
        )
        assert put.status_code == 200, put.text
        (view,) = put.json()
        assert view["id"] == "ops-hook"
        assert view["host"] == "127.0.0.1"
        secret = view["secret"]
        assert isinstance(secret, str)
        assert len(secret) >= 32
        listed = await notifier.client.get(f"/communities/{community}/channels")
        assert listed.status_code == 200
        assert [c["secret"] for c in listed.json()] == [None]  # shown once, never again

        event = kudos(community, member(), member(), message="Signed, sealed, delivered")
        await notifier.send(event)
        delivery = await notifier.wait_state(chat_id(event, "ops-hook"), event.id, "delivered")
        assert delivery["channel_kind"] == "webhook"

    (post,) = receiver.arrivals("/hooks/signed")
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-cop-signature"].startswith("sha256=")
    timestamp = int(post.headers["x-cop-timestamp"])
    assert abs(post.wall - timestamp) <= 5, "the signed timestamp is the time of sending"
    assert post.verify_signature(secret), "X-Cop-Signature = sha256=HMAC(secret, ts + '.' + body)"
    assert not post.verify_signature(LOCAL_CHAT_WEBHOOK_SECRET), "the channel's own secret"
    tampered = dataclasses.replace(post, raw=post.raw.replace(b"Signed", b"Forged"))
    assert not tampered.verify_signature(secret)
    assert post.headers["idempotency-key"] == delivery["delivery_id"]
    payload = post.json()
    assert set(payload) == {"title", "text", "facts", "event"}
    assert payload["event"]["id"] == event.id
    assert payload["event"]["type"] == "cop.kudos.judged.v1"
    assert "Signed, sealed, delivered" in payload["text"]


# --- 2. the allowlist -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1.nip.io/hooks",
        "http://127.0.0.1@evil.example/hooks",
    ],
)
async def test_a_channel_outside_the_allowlist_is_refused_with_a_problem(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], url: str
) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    async with running(infra, make_settings()) as notifier:
        put = await notifier.put_channel(community, "outside", "slack", url)
        problem = problem_of(put, 422)
        assert problem["status"] == 422
        assert problem["code"] == "host_not_allowed"
        listed = await notifier.client.get(f"/communities/{community}/channels")
        assert listed.json() == []


async def test_a_default_webhook_outside_the_allowlist_fails_at_once_and_is_reported(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings]
) -> None:
    settings = make_settings(
        chat_webhook_url="http://169.254.169.254/latest/meta-data", **FAST_RETRIES
    )
    async with running(infra, settings) as notifier:
        event = kudos(f"c-{uuid.uuid4().hex[:8]}", member(), member())
        await notifier.send(event)
        delivery = await notifier.wait_state(chat_id(event), event.id, "failed")
        assert "not allowed" in delivery["error"]
        assert delivery["attempt"] == 1, "a refused host is not retried"
        assert outcomes(delivery["attempts"]) == ["failed"]
        reported = await notification_events(notifier, delivery["delivery_id"], expect=1)
        assert [r["type"] for r in reported] == ["cop.notification.failed.v1"]
        assert "not allowed" in reported[0]["data"]["error"]
        assert reported[0]["data"]["cause_event_id"] == event.id


# --- 3. retries -------------------------------------------------------------------------------


async def test_a_receiver_failing_twice_gets_the_post_once_after_three_attempts(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], receiver: Receiver
) -> None:
    receiver.fail_next(2, status=500)
    async with running(infra, make_settings(**FAST_RETRIES)) as notifier:
        event = kudos(f"c-{uuid.uuid4().hex[:8]}", member(), member())
        await notifier.send(event)
        delivery = await notifier.wait_state(chat_id(event), event.id, "delivered")
        assert delivery["attempt"] == 3
        assert outcomes(delivery["attempts"]) == ["retry_wait", "retry_wait", "delivered"]
        assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
        for failed in delivery["attempts"][:2]:
            assert "HTTP 500" in failed["error"]
        reported = await notification_events(notifier, delivery["delivery_id"], expect=1)
        assert [r["type"] for r in reported] == ["cop.notification.delivered.v1"]
        assert reported[0]["data"]["attempt"] == 3

    posts = receiver.arrivals("/hooks/default")
    assert [p.status for p in posts] == [500, 500, 200]
    assert {p.headers["idempotency-key"] for p in posts} == {delivery["delivery_id"]}
    assert all(p.verify_signature(LOCAL_CHAT_WEBHOOK_SECRET) for p in posts)
    assert all(p.json()["event"]["id"] == event.id for p in posts)


# --- 4. the last attempt, the DLQ and an operator's retry ---------------------------------------


async def test_the_last_failed_attempt_dead_letters_and_an_admin_retry_delivers_it(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], receiver: Receiver
) -> None:
    receiver.answer_always(503)
    settings = make_settings(delivery_max_attempts=2, **FAST_RETRIES)
    async with running(infra, settings) as notifier:
        event = kudos(f"c-{uuid.uuid4().hex[:8]}", member(), member())
        await notifier.send(event)
        delivery_id = chat_id(event)
        failed = await notifier.wait_state(delivery_id, event.id, "failed")
        assert failed["attempt"] == 2
        assert outcomes(failed["attempts"]) == ["retry_wait", "failed"]
        assert "HTTP 503" in failed["error"]

        dead = await read_all(
            infra.kafka_bootstrap_servers, notifier.topic("cop.dlq.notifier"), expect=1
        )
        ours = [r for r in dead if headers(r).get("cop_delivery_id") == delivery_id]
        assert len(ours) == 1, [headers(r) for r in dead]
        assert headers(ours[0])["cop_service"] == "notifier"
        assert "HTTP 503" in headers(ours[0])["cop_error"]
        assert body(ours[0])["_id"] == delivery_id
        assert "context" not in body(ours[0])
        reported = await notification_events(notifier, delivery_id, expect=1)
        assert [r["type"] for r in reported] == ["cop.notification.failed.v1"]
        assert reported[0]["data"]["attempt"] == 2

        refused = await notifier.client.post(
            f"/deliveries/{delivery_id}/retry", headers=bearer("someone")
        )
        assert refused.status_code == 403
        receiver.answer_always(200)
        retried = await notifier.client.post(f"/deliveries/{delivery_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json() == {"requeued": True}
        delivered = await notifier.wait_state(delivery_id, event.id, "delivered")
        assert outcomes(delivered["attempts"]) == ["retry_wait", "failed", "delivered"]
        again = await notifier.client.post(f"/deliveries/{delivery_id}/retry")
        assert again.json() == {"requeued": False}, "a delivered record is never sent again"
        reported = await notification_events(notifier, delivery_id, expect=2)
        assert sorted(r["type"] for r in reported) == [
            "cop.notification.delivered.v1",
            "cop.notification.failed.v1",
        ]

    posts = receiver.arrivals("/hooks/default")
    assert [p.status for p in posts] == [503, 503, 200]
    assert {p.headers["idempotency-key"] for p in posts} == {delivery_id}


# --- 5. a burst held to the webhook's rate ------------------------------------------------------


async def test_a_burst_to_one_slack_webhook_drains_at_its_rate_and_nothing_fails(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], receiver: Receiver
) -> None:
    community = f"c-{uuid.uuid4().hex[:8]}"
    path = "/hooks/slack/T000/B000"
    async with running(infra, make_settings(chat_rate="1/second", **FAST_RETRIES)) as notifier:
        put = await notifier.put_channel(community, "slack", "slack", receiver.url_for(path))
        assert put.status_code == 200, put.text
        assert put.json()[0]["secret"] is None  # only generic webhooks are signed
        burst = [kudos(community, member(), member(), message=f"burst {i}") for i in range(6)]
        await notifier.send(*burst)

        async def all_arrived() -> bool:
            return len(receiver.arrivals(path)) >= len(burst)

        await eventually(all_arrived, timeout_s=40, what="six posts to the Slack webhook")
        for event in burst:
            await notifier.wait_state(chat_id(event, "slack"), event.id, "delivered")
        chat = [await notifier.delivery(chat_id(e, "slack"), e.id) for e in burst]
        everything = [d for e in burst for d in await notifier.deliveries(e.id)]

    assert not [d for d in everything if d["state"] == "failed"]
    for delivery in chat:
        assert delivery is not None
        assert delivery["attempt"] == 1, delivery
        assert outcomes(delivery["attempts"]) == ["delivered"], delivery
    posts = receiver.arrivals(path)
    assert len(posts) == len(burst)
    assert all(p.status == 200 for p in posts)
    assert sorted(p.headers["idempotency-key"] for p in posts) == sorted(
        chat_id(e, "slack") for e in burst
    )
    times = sorted(p.monotonic for p in posts)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.8, f"posts closer than the 1/second rate allows: {gaps}"
    for post in posts:
        payload = post.json()
        assert "x-cop-signature" not in post.headers
        assert isinstance(payload["text"], str)
        assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context"]
        assert payload["blocks"][0]["text"]["type"] == "plain_text"


# --- 6. redelivery and replay -------------------------------------------------------------------


async def test_an_event_produced_twice_sends_one_email_and_one_post(
    infra: Infrastructure,
    make_settings: Callable[..., NotifierSettings],
    receiver: Receiver,
    sinks: Sinks,
) -> None:
    community, giver, thanked = f"c-{uuid.uuid4().hex[:8]}", member(), member()
    async with running(infra, make_settings(**FAST_RETRIES)) as notifier:
        await notifier.send(profile(giver, "Gil"), profile(thanked, "Tia"))
        await notifier.profiles_known(giver, thanked)
        event = kudos(community, giver, thanked)
        marker = kudos(community, giver, thanked, message="later, on the same partition")
        await notifier.send(event, event, marker)
        for sent in (event, marker):
            await notifier.wait_state(email_id(sent, thanked), sent.id, "delivered")
            await notifier.wait_state(chat_id(sent), sent.id, "delivered")
        deliveries = await notifier.deliveries(event.id)

    assert sorted(mail_ids(sinks, f"{thanked}@example.com")) == sorted(
        [email_id(event, thanked), email_id(marker, thanked)]
    )
    assert len(posts_about(receiver, "/hooks/default", event)) == 1
    assert len(posts_about(receiver, "/hooks/default", marker)) == 1
    assert sorted(d["delivery_id"] for d in deliveries) == sorted(
        [email_id(event, thanked), chat_id(event)]
    )
    for delivery in deliveries:
        assert outcomes(delivery["attempts"]) == ["delivered"]


async def test_a_replay_rebuilds_the_projection_and_sends_nothing_again(
    infra: Infrastructure,
    make_settings: Callable[..., NotifierSettings],
    receiver: Receiver,
    sinks: Sinks,
) -> None:
    settings = make_settings(**FAST_RETRIES)
    community, giver, thanked = f"c-{uuid.uuid4().hex[:8]}", member(), member()
    address = f"{thanked}@example.com"
    topics = [settings.kafka_topic_prefix + str(t) for t in rebuild.TOPICS]
    lag = GroupLag(infra.kafka_bootstrap_servers, settings.kafka_consumer_group or "", topics)

    async def caught_up() -> bool:
        return await lag.records_behind() == 0

    history = [kudos(community, giver, thanked, message=f"before the replay {i}") for i in range(3)]
    later_path = "/hooks/after-replay"
    try:
        async with running(infra, settings) as notifier:
            await notifier.send(profile(giver, "Gil"), profile(thanked, "Tia"))
            await notifier.profiles_known(giver, thanked)
            await notifier.send(*history)
            for event in history:
                await notifier.wait_state(email_id(event, thanked), event.id, "delivered")
                await notifier.wait_state(chat_id(event), event.id, "delivered")
            # A channel added after those events: a replay that planned them again would post
            # them there (their records for it do not exist yet).
            put = await notifier.put_channel(
                community, "later", "webhook", receiver.url_for(later_path)
            )
            assert put.status_code == 200, put.text
            await lag.start()
            await eventually(caught_up, timeout_s=30, what="the live run to commit its offsets")
        mails_before = mail_ids(sinks, address)
        posts_before = len(receiver.arrivals("/hooks/default"))
        assert len(mails_before) == len(history)
        assert posts_before == len(history)

        replayed = await replay("notifier", settings)
        assert "profiles" in replayed["dropped"]

        async with running(infra, settings) as notifier:
            await eventually(caught_up, timeout_s=60, what="the replay to catch up")
            rebuilt = await notifier.client.get(f"/profiles/{thanked}")
            assert rebuilt.status_code == 200, "the projection is rebuilt from the topics"
            assert rebuilt.json()["email"] == address
            marker = kudos(community, giver, thanked, message="after the replay")
            await notifier.send(marker)
            await notifier.wait_state(email_id(marker, thanked), marker.id, "delivered")
            await notifier.wait_state(chat_id(marker, "later"), marker.id, "delivered")
            for event in history:
                found = await notifier.deliveries(event.id)
                assert sorted(d["delivery_id"] for d in found) == sorted(
                    [email_id(event, thanked), chat_id(event)]
                ), "the replay planned nothing for the old events"
                for delivery in found:
                    assert outcomes(delivery["attempts"]) == ["delivered"], delivery
    finally:
        await lag.stop()

    assert sorted(mail_ids(sinks, address)) == sorted([*mails_before, email_id(marker, thanked)])
    assert len(receiver.arrivals("/hooks/default")) == posts_before
    later = receiver.arrivals(later_path)
    assert [p.json()["event"]["id"] for p in later] == [marker.id]


# --- 7. crash points of the state machine -------------------------------------------------------


def session_event(community: str, facilitator: str, starts_at: datetime) -> CloudEvent:
    return new_event(
        SessionScheduled(
            session_id=f"s-{uuid.uuid4().hex[:8]}",
            community_id=community,
            title="Chaos engineering brown bag",
            format="brown_bag",
            starts_at=starts_at,
            duration_minutes=45,
            facilitator_id=facilitator,
        ),
        source="test/events",
    )


async def test_a_record_left_sending_by_a_vanished_holder_is_sent_again_with_its_identity(
    infra: Infrastructure,
    make_settings: Callable[..., NotifierSettings],
    receiver: Receiver,
    sinks: Sinks,
) -> None:
    settings = make_settings(reminder_offsets_h=[1], **IDLE_LOOP)
    community, facilitator = f"c-{uuid.uuid4().hex[:8]}", member()
    address = f"{facilitator}@example.com"
    async with (
        running(infra, settings) as notifier,
        database(infra, settings) as db,
        Redis.from_url(settings.redis_url) as redis,
    ):
        await notifier.send(profile(facilitator, "Fay"))
        await notifier.profiles_known(facilitator)
        event = session_event(community, facilitator, datetime.now(UTC) + timedelta(hours=3))
        await notifier.send(event)
        session_id = event.data["session_id"]
        reminder_id = f"{session_id}:reminder-1h-0:{facilitator}:email"
        reminder = await notifier.wait_state(reminder_id, event.id, "held")
        due = datetime.fromisoformat(reminder["due_at"])

        async def invitation_sent() -> bool:  # what is due now, so only the reminder is left
            await notifier.dispatcher.run_once()
            found = await notifier.deliveries(event.id)
            return [d["state"] for d in found].count("delivered") == 2

        await eventually(invitation_sent, what="the invitation e-mail and chat post sent")
        mails_before = len(sinks.mails_to(address))

        # The reminder is sent; then its dispatcher dies before it records the outcome: the
        # record is left `sending`, in the bucket of its minute.
        await notifier.dispatcher.run_once(now=due + timedelta(minutes=1))
        first = sinks.mails_to(address)[mails_before:]
        assert [m["X-Cop-Notification-Id"] for m in first] == [reminder_id]
        await db["deliveries"].update_one(
            {"_id": reminder_id}, {"$set": {"state": "sending", "attempt": 1, "attempts": []}}
        )
        await db["delivery_due"].update_one(
            {"_id": minute_key(due)}, {"$addToSet": {"ids": reminder_id}}, upsert=True
        )
        await db["dispatch_cursor"].update_one(
            {"_id": "cursor"}, {"$min": {"minute": minute_key(due)}}
        )

        # While its lease lives, nobody touches it.
        lease = f"{settings.mongodb_database}:delivery-lease:{reminder_id}"
        await redis.set(lease, "another-replica", ex=60)
        await notifier.dispatcher.run_once(now=due + timedelta(minutes=1))
        held = await notifier.delivery(reminder_id, event.id)
        assert held is not None
        assert held["state"] == "sending", "a live holder's record is left alone"
        assert await redis.get(lease) == b"another-replica"

        # Then its lease expires: the outcome is unknown, so it is sent again, as the same
        # message, and the interrupted attempt stays in its history.
        await redis.delete(lease)
        await notifier.dispatcher.run_once(now=due + timedelta(minutes=1))
        ended = await notifier.delivery(reminder_id, event.id)
        assert ended is not None
        assert ended["state"] == "delivered"
        assert outcomes(ended["attempts"]) == ["interrupted", "delivered"]
        assert [a["attempt"] for a in ended["attempts"]] == [1, 2]
        assert not await redis.exists(lease), "the lease is let go"

    both = sinks.mails_to(address)[mails_before:]
    assert [m["X-Cop-Notification-Id"] for m in both] == [reminder_id, reminder_id]
    assert both[0]["Message-ID"] == both[1]["Message-ID"], "the repeat has the same identity"


async def test_a_record_interrupted_on_its_last_attempt_ends_unknown_and_is_not_sent(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], sinks: Sinks
) -> None:
    settings = make_settings(reminder_offsets_h=[1], delivery_max_attempts=2, **IDLE_LOOP)
    community, facilitator = f"c-{uuid.uuid4().hex[:8]}", member()
    address = f"{facilitator}@example.com"
    async with running(infra, settings) as notifier, database(infra, settings) as db:
        await notifier.send(profile(facilitator, "Fay"))
        await notifier.profiles_known(facilitator)
        event = session_event(community, facilitator, datetime.now(UTC) + timedelta(hours=3))
        await notifier.send(event)
        reminder_id = f"{event.data['session_id']}:reminder-1h-0:{facilitator}:email"
        reminder = await notifier.wait_state(reminder_id, event.id, "held")
        mails_before = len(sinks.mails_to(address))
        await db["deliveries"].update_one(
            {"_id": reminder_id}, {"$set": {"state": "sending", "attempt": 2}}
        )
        due = datetime.fromisoformat(reminder["due_at"])
        await notifier.dispatcher.run_once(now=due + timedelta(minutes=1))
        ended = await notifier.delivery(reminder_id, event.id)
        assert ended is not None
        assert ended["state"] == "unknown"
        assert "last attempt" in ended["error"]
        reported = await notification_events(notifier, reminder_id, expect=3)
        assert [r["type"] for r in reported] == ["cop.notification.failed.v1"]
    reminders = [m for m in sinks.mails_to(address)[mails_before:] if "Reminder" in m["Subject"]]
    assert reminders == [], "the last attempt is not made again"


async def test_a_reminder_is_never_sent_after_its_session_started(
    infra: Infrastructure,
    make_settings: Callable[..., NotifierSettings],
    receiver: Receiver,
    sinks: Sinks,
) -> None:
    settings = make_settings(reminder_offsets_h=[24, 1], **IDLE_LOOP)
    community, facilitator = f"c-{uuid.uuid4().hex[:8]}", member()
    address = f"{facilitator}@example.com"
    now = datetime.now(UTC)
    async with running(infra, settings) as notifier:
        await notifier.send(profile(facilitator, "Fay"))
        await notifier.profiles_known(facilitator)

        # Scheduled three days ago, for half an hour from now, and only arriving now (a
        # calendar's late event): both reminders' times are gone, none is planned.
        late = session_event(community, facilitator, now + timedelta(minutes=30))
        late = late.model_copy(update={"time": now - timedelta(days=3)})
        # Held until after its start: a reminder in quiet hours, or a notifier that was down.
        later = session_event(community, facilitator, now + timedelta(hours=3))
        await notifier.send(late, later)
        invitation = f"{later.id}:{facilitator}:email"
        await notifier.wait_state(invitation, later.id, "delivered")
        reminder_id = f"{later.data['session_id']}:reminder-1h-0:{facilitator}:email"
        await notifier.wait_state(reminder_id, later.id, "held")
        planned = [d["delivery_id"] for d in await notifier.deliveries(late.id)]
        assert not [d for d in planned if "reminder" in d], planned

        after_start = now + timedelta(hours=3, minutes=1)
        await notifier.dispatcher.run_once(now=after_start)
        reminder = await notifier.delivery(reminder_id, later.id)
        assert reminder is not None
        assert reminder["state"] == "cancelled"
        assert reminder["error"] == "the session has started"
    subjects = [str(m["Subject"]) for m in sinks.mails_to(address)]
    assert subjects, "the invitations were sent"
    assert not [s for s in subjects if s.startswith("Reminder:")], subjects


async def test_a_bucket_naming_a_record_never_written_is_skipped_and_the_cursor_moves_on(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], receiver: Receiver
) -> None:
    settings = make_settings(**IDLE_LOOP)
    phantom = f"{uuid.uuid4()}:channel-default:chat"
    # A dispatcher died after writing the bucket, before the record (and the event was never
    # redelivered): ten minutes ago, and the cursor stands at that minute.
    minute = minute_key(datetime.now(UTC) - timedelta(minutes=10))
    async with (
        running(infra, settings) as notifier,
        database(infra, settings) as db,
        Redis.from_url(settings.redis_url) as redis,
    ):
        await cursor_stands_at(db, minute, naming=phantom)
        cursor = await cursor_after_a_round(notifier, db, minute)

        assert cursor > minute, "the cursor moved past the bucket of the missing record"
        assert await db["delivery_due"].find_one({"_id": minute}) is None
        assert await db["deliveries"].find_one({"_id": phantom}) is None, "nothing invented"
        lease = f"{settings.mongodb_database}:delivery-lease:{phantom}"
        assert not await redis.exists(lease)
    assert receiver.arrivals() == []


async def test_a_parked_email_waiting_for_an_address_does_not_hold_the_cursor(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings]
) -> None:
    """`awaiting_address` waits for the member's profile, not for its bucket (`SETTLED`): a
    cursor held behind it would stop every later delivery once the scan window (24 h) is past."""
    settings = make_settings(**IDLE_LOOP)
    community, newcomer = f"c-{uuid.uuid4().hex[:8]}", member()
    async with running(infra, settings) as notifier, database(infra, settings) as db:
        event = kudos(community, member(), newcomer)
        await notifier.send(event)
        parked_id = email_id(event, newcomer)

        async def parked() -> Doc | None:
            await notifier.dispatcher.run_once()
            found = await notifier.delivery(parked_id, event.id)
            return found if found is not None and found["state"] == "awaiting_address" else None

        await eventually(parked, what="the e-mail parked until an address is known")
        # As if it had been planned and parked ten minutes ago, the cursor at that minute.
        minute = minute_key(datetime.now(UTC) - timedelta(minutes=10))
        await db["deliveries"].update_one(
            {"_id": parked_id}, {"$set": {"due_at": minute_of(minute)}}
        )
        await cursor_stands_at(db, minute, naming=parked_id)
        cursor = await cursor_after_a_round(notifier, db, minute)

        assert cursor > minute, (
            "the cursor is held at the minute of an e-mail waiting for an address"
        )
        still = await notifier.delivery(parked_id, event.id)
        assert still is not None
        assert still["state"] == "awaiting_address"


async def test_a_round_run_ahead_of_the_clock_loses_nothing_planned_afterwards(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], receiver: Receiver
) -> None:
    """`run_once(now=...)` is the app's hand on the schedule (tests, an operator): a round run
    for a later moment must not settle the minutes that records planned by the real clock are
    still put in, or those records are in no bucket any dispatcher reads again."""
    settings = make_settings(**FAST_RETRIES)
    async with running(infra, settings) as notifier, database(infra, settings) as db:
        # Where the cursor of a notifier that has run for a few minutes stands.
        await db["dispatch_cursor"].update_one(
            {"_id": "cursor"},
            {"$set": {"minute": minute_key(datetime.now(UTC) - timedelta(minutes=3))}},
            upsert=True,
        )
        await notifier.dispatcher.run_once(now=datetime.now(UTC) + timedelta(minutes=5))
        event = kudos(f"c-{uuid.uuid4().hex[:8]}", member(), member())
        await notifier.send(event)
        planned = await eventually(
            lambda: notifier.delivery(chat_id(event), event.id), what="the chat post planned"
        )
        cursor = await db["dispatch_cursor"].find_one({"_id": "cursor"})
        bucket = minute_key(datetime.fromisoformat(planned["due_at"]))
        assert cursor is None or cursor["minute"] <= bucket, (
            f"the cursor ({cursor}) is past the bucket {bucket} of a record planned just now"
        )
        await notifier.wait_state(chat_id(event), event.id, "delivered", timeout_s=20)
    assert [p.json()["event"]["id"] for p in receiver.arrivals("/hooks/default")] == [event.id]


# --- 8. one bad record does not stop the others ---------------------------------------------


async def test_records_the_database_cannot_return_together_or_that_cannot_be_sent_stop_nobody(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings], sinks: Sinks
) -> None:
    """Five reminders due together: four so large (a roster copied in before records were kept
    small) that the server refuses to return them in one reply (over its 48 MB), one whose
    content this version cannot read. The four are read in smaller groups and sent; the one
    fails on its own."""
    settings = make_settings(reminder_offsets_h=[1], **IDLE_LOOP)
    community, facilitator = f"c-{uuid.uuid4().hex[:8]}", member()
    members = [member() for _ in range(5)]
    async with running(infra, settings) as notifier, database(infra, settings) as db:
        await notifier.send(*(profile(m, f"Member {m}") for m in members))
        await notifier.send(
            *(
                new_event(MemberJoined(community_id=community, member_id=m), source="test/events")
                for m in members
            )
        )
        await notifier.profiles_known(*members)

        async def joined() -> bool:  # the session is on another topic: it may come first
            return await Directory(db).members(community) == set(members)

        await eventually(joined, what="the members in the notifier's roster")
        event = session_event(community, facilitator, datetime.now(UTC) + timedelta(hours=3))
        await notifier.send(event)
        reminders = [f"{event.data['session_id']}:reminder-1h-0:{m}:email" for m in members]
        for reminder_id in reminders:
            reminder = await notifier.wait_state(reminder_id, event.id, "held")
        roster = ["x" * 13_000] * 1_000  # 13 MB
        for reminder_id in reminders[:4]:
            await db["deliveries"].update_one(
                {"_id": reminder_id}, {"$set": {"context.session.attendee_ids": roster}}
            )
        await db["deliveries"].update_one({"_id": reminders[4]}, {"$set": {"context": {}}})

        due = datetime.fromisoformat(reminder["due_at"])
        await notifier.dispatcher.run_once(now=due + timedelta(minutes=1))
        states = {}
        for reminder_id in reminders:
            found = await db["deliveries"].find_one({"_id": reminder_id}, {"state": 1, "error": 1})
            assert found is not None
            states[reminder_id] = (found["state"], found.get("error"))
    assert [s for s, _ in states.values()] == ["delivered"] * 4 + ["failed"], states
    assert "cannot be sent: KeyError" in str(states[reminders[4]][1])
    for m in members[:4]:
        assert [str(x["Subject"]) for x in sinks.mails_to(f"{m}@example.com")][-1].startswith(
            "Reminder:"
        )


async def test_a_profile_arriving_while_its_delivery_is_being_parked_releases_it(
    infra: Infrastructure, make_settings: Callable[..., NotifierSettings]
) -> None:
    """The interleaving a dispatcher and a profile's handler can fall into: the dispatcher has
    listed the delivery as waiting for the address but not yet marked it parked when the
    profile's handler releases what waits; the dispatcher then marks it parked and checks the
    profile again. The delivery is released, not left parked for ever."""
    settings = make_settings(**IDLE_LOOP)
    who = member()
    async with running(infra, settings) as notifier, database(infra, settings) as db:
        log = notifier.dispatcher._log
        now = datetime.now(UTC)
        delivery_id = f"{uuid.uuid4()}:{who}:email"
        record: Doc = {
            "_id": delivery_id,
            "cause_event_id": delivery_id,
            "cause_type": "cop.kudos.judged.v1",
            "kind": "kudos",
            "community_id": "c1",
            "member_id": who,
            "channel": None,
            "channel_kind": "email",
            "context": {},
        }
        await log.plan([record], now)
        await db["waiting_for_address"].update_one(
            {"_id": who}, {"$addToSet": {"ids": delivery_id}}, upsert=True
        )
        assert await log.release_awaiting(who, now) == 0, "nothing is parked yet"
        await db["deliveries"].update_one(
            {"_id": delivery_id}, {"$set": {"state": "awaiting_address"}}
        )
        assert await log.release_awaiting(who, now) == 1, "the dispatcher's check releases it"
        released = await db["deliveries"].find_one({"_id": delivery_id})
        assert released is not None
        assert released["state"] == "queued"
        bucket = await db["delivery_due"].find_one({"_id": released["due_bucket"]})
        assert released["due_bucket"].startswith(minute_key(now))
        assert bucket is not None
        assert delivery_id in bucket["ids"]
        assert (await db["waiting_for_address"].find_one({"_id": who}) or {}).get("ids") == []
