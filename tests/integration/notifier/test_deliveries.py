"""The notifier against real Kafka, MongoDB-protocol server, Redis, an SMTP server and a webhook."""

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.notifier.bootstrap import bootstrap
from services.notifier.settings import NotifierSettings
from shared.events.catalog import KudosJudged, MemberProfileUpdated
from shared.events.envelope import CloudEvent, new_event
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for
from tests.integration.kafka_io import body, produce_event, read_all
from tests.integration.polling import eventually
from tests.sinks import Sinks

pytestmark = pytest.mark.integration


@dataclass
class Notifier:
    client: httpx.AsyncClient
    settings: NotifierSettings

    async def send(self, infra: Infrastructure, event: CloudEvent) -> None:
        await produce_event(infra.kafka_bootstrap_servers, self.settings.kafka_topic_prefix, event)

    async def deliveries(self, cause_event_id: str) -> list[dict[str, Any]]:
        response = await self.client.get("/deliveries", params={"cause_event_id": cause_event_id})
        assert response.status_code == 200
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@contextlib.asynccontextmanager
async def start_notifier(
    infra: Infrastructure, sinks: Sinks, namespace: str, **overrides: Any
) -> AsyncIterator[Notifier]:
    values = {"smtp_port": sinks.smtp_port, "chat_webhook_url": sinks.chat_url, **overrides}
    settings = settings_for(NotifierSettings, infra, namespace, **values)
    async with serving(bootstrap(settings), "notifier") as client:
        yield Notifier(client, settings)
    await drop_database(infra, settings.mongodb_database)


@pytest.fixture
async def notifier(infra: Infrastructure, sinks: Sinks, unique: str) -> AsyncIterator[Notifier]:
    async with start_notifier(infra, sinks, f"ntf{unique}") as running:
        yield running


def profile(member: str, name: str) -> CloudEvent:
    return new_event(
        MemberProfileUpdated(member_id=member, name=name, email=f"{member}@example.com"),
        source="test/directory",
    )


def kudos(giver: str, *receivers: str, message: str = "Thanks for the demo day") -> CloudEvent:
    """A kudos as recognition's judge decided it: counted for every receiver."""
    return new_event(
        KudosJudged(
            kudos_id=f"k-{uuid.uuid4().hex[:8]}",
            from_id=giver,
            community_id="testing-guild",
            message=message,
            value_tag="knowledge_sharing",
            period="2026-11",
            recipients=[{"member_id": r, "verdict": "counted"} for r in receivers],
        ),
        source="test/recognition",
    )


def member() -> str:
    return f"m{uuid.uuid4().hex[:8]}"


async def test_kudos_is_emailed_to_each_recipient_and_posted_once_to_chat(
    infra: Infrastructure, notifier: Notifier, sinks: Sinks
) -> None:
    giver, alice, bob = member(), member(), member()
    for who, name in ((giver, "Gia Giver"), (alice, "Alice"), (bob, "Bob")):
        await notifier.send(infra, profile(who, name))

    async def profiles_known() -> bool:
        found = [await notifier.client.get(f"/profiles/{m}") for m in (giver, alice, bob)]
        return all(r.status_code == 200 for r in found)

    # Profiles and kudos travel different topics: wait so the giver's name is known.
    await eventually(profiles_known, what="the three profiles in the notifier")
    event = kudos(giver, alice, bob, message="Your <journal club> notes were gold")
    await notifier.send(infra, event)

    async def all_delivered() -> list[dict[str, Any]] | None:
        found = await notifier.deliveries(event.id)
        done = [d for d in found if d["state"] == "delivered"]
        return found if len(done) == 3 else None

    deliveries = await eventually(all_delivered, what="two e-mails and one chat post delivered")
    assert sorted(d["channel_kind"] for d in deliveries) == ["email", "email", "webhook"]
    for who in (alice, bob):
        (mail,) = sinks.mails_to(f"{who}@example.com")
        assert mail["Subject"] == "Gia Giver gave kudos for knowledge sharing"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail.get_content_type() == "multipart/alternative"
        text = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert text is not None
        assert html is not None
        assert "Your <journal club> notes were gold" in text.get_content()
        assert "Your &lt;journal club&gt; notes were gold" in html.get_content()
    posts = [p for p in sinks.posts() if p["body"]["event"]["id"] == event.id]
    assert len(posts) == 1
    assert posts[0]["headers"]["x-cop-signature"].startswith("sha256=")

    outcomes = await read_all(
        infra.kafka_bootstrap_servers,
        notifier.settings.kafka_topic_prefix + str(Topic.NOTIFICATIONS),
        expect=3,
    )
    delivered = [body(r) for r in outcomes if body(r)["data"]["cause_event_id"] == event.id]
    assert {d["type"] for d in delivered} == {"cop.notification.delivered.v1"}
    assert len(delivered) == 3


async def test_a_redelivered_event_sends_nothing_twice(
    infra: Infrastructure, notifier: Notifier, sinks: Sinks
) -> None:
    giver, receiver = member(), member()
    await notifier.send(infra, profile(receiver, "Rae"))
    event = kudos(giver, receiver)
    marker = kudos(giver, receiver, message="a later kudos on the same partition")
    for sent in (event, event, marker):
        await notifier.send(infra, sent)

    async def marker_delivered() -> bool:
        return any(d["state"] == "delivered" for d in await notifier.deliveries(marker.id))

    await eventually(marker_delivered, what="the later kudos delivered")
    mails = sinks.mails_to(f"{receiver}@example.com")
    assert len(mails) == 2  # one for `event`, one for `marker`
    email_delivery = [d for d in await notifier.deliveries(event.id) if d["member_id"] == receiver]
    assert email_delivery[0]["attempt"] == 1
    assert [a["outcome"] for a in email_delivery[0]["attempts"]] == ["delivered"]


async def test_kudos_waits_for_the_recipients_address_then_is_sent(
    infra: Infrastructure, notifier: Notifier, sinks: Sinks
) -> None:
    giver, newcomer = member(), member()
    event = kudos(giver, newcomer)
    await notifier.send(infra, event)

    async def waiting() -> bool:
        found = await notifier.deliveries(event.id)
        return any(d["state"] == "awaiting_address" for d in found)

    await eventually(waiting, what="the e-mail parked until an address is known")
    assert sinks.mails_to(f"{newcomer}@example.com") == []

    await notifier.send(infra, profile(newcomer, "Newt"))

    async def sent() -> bool:
        return len(sinks.mails_to(f"{newcomer}@example.com")) == 1

    await eventually(sent, what="the parked e-mail sent once the profile arrived")


async def test_webhook_outside_the_allowlist_is_refused_and_reported(
    infra: Infrastructure, sinks: Sinks, unique: str
) -> None:
    event = kudos(member(), member())
    async with start_notifier(
        infra, sinks, f"ntf{unique}", chat_webhook_url="http://169.254.169.254/latest/meta-data"
    ) as notifier:
        await notifier.send(infra, event)

        async def failed() -> dict[str, Any] | None:
            found = await notifier.deliveries(event.id)
            return next((d for d in found if d["state"] == "failed"), None)

        delivery = await eventually(failed, what="the chat delivery marked failed")
        assert "not allowed" in delivery["error"]
        outcomes = await read_all(
            infra.kafka_bootstrap_servers,
            notifier.settings.kafka_topic_prefix + str(Topic.NOTIFICATIONS),
            expect=1,
        )
        failures = [body(r) for r in outcomes if body(r)["type"] == "cop.notification.failed.v1"]
        assert failures
        assert failures[0]["data"]["cause_event_id"] == event.id
    assert not any(p["body"].get("event", {}).get("id") == event.id for p in sinks.posts())


async def test_members_read_only_their_own_profile_and_deliveries(notifier: Notifier) -> None:
    someone = await notifier.client.get("/profiles/bob", headers=bearer("ann"))
    assert someone.status_code == 403
    everyone = await notifier.client.get("/deliveries", headers=bearer("ann"))
    assert everyone.status_code == 403
    own = await notifier.client.get(
        "/deliveries", params={"member_id": "ann"}, headers=bearer("ann")
    )
    assert own.status_code == 200


def closed_port() -> int:
    """A loopback port nothing listens on: the OS gave it to us and we let it go."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_smtp_server_fails_the_delivery_and_never_holds_the_partition(
    infra: Infrastructure, sinks: Sinks, unique: str
) -> None:
    giver, receiver = member(), member()
    async with start_notifier(
        infra,
        sinks,
        f"ntf{unique}",
        smtp_port=closed_port(),
        smtp_timeout_s=1.0,
        delivery_max_attempts=3,
        delivery_retry_base_s=0.1,
        delivery_retry_max_s=0.2,
    ) as notifier:
        await notifier.send(infra, profile(receiver, "Rae"))
        stuck = kudos(giver, receiver)
        behind = kudos(giver, receiver, message="behind it, on the same partition")
        for event in (stuck, behind):
            await notifier.send(infra, event)

        async def email_failed(event: CloudEvent) -> dict[str, Any] | None:
            found = await notifier.deliveries(event.id)
            return next(
                (d for d in found if d["channel_kind"] == "email" and d["state"] == "failed"),
                None,
            )

        async def chat_delivered(event: CloudEvent) -> bool:
            found = await notifier.deliveries(event.id)
            return any(d["channel_kind"] != "email" and d["state"] == "delivered" for d in found)

        first = await eventually(lambda: email_failed(stuck), what="the first e-mail failed")
        assert "SMTP" in first["error"]
        assert [a["outcome"] for a in first["attempts"]] == ["retry_wait", "retry_wait", "failed"]
        await eventually(lambda: email_failed(behind), what="the event behind it handled too")
        # the other channel still works for both
        await eventually(lambda: chat_delivered(behind), what="the chat post of the later kudos")
        assert await chat_delivered(stuck)
    assert sinks.mails_to(f"{receiver}@example.com") == []
