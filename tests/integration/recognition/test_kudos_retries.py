"""A client that repeats `POST /kudos` with the same `Idempotency-Key` (after a time-out, a
dropped connection) gets the first answer, and the kudos is given and counted once."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import bearer, serving_anew, settings_for
from tests.integration.idempotency import assert_answered_once, assert_replayed, documented_keys
from tests.integration.kafka_io import published_count
from tests.problems import problem_of

pytestmark = pytest.mark.integration


@dataclass
class Recognition:
    client: httpx.AsyncClient
    settings: RecognitionSettings

    async def give(
        self, giver: str, key: str | None, *receivers: str, **extra: Any
    ) -> httpx.Response:
        headers = bearer(giver) | ({"Idempotency-Key": key} if key else {})
        body = {
            "to_ids": list(receivers),
            "community_id": "platform-guild",
            "message": "Thanks for the flaky-test hunt",
            "value_tag": "helpfulness",
            **extra,
        }
        return await self.client.post("/kudos?wait=true", json=body, headers=headers)

    async def received(self, member_id: str) -> int:
        response = await self.client.get(f"/members/{member_id}/profile")
        assert response.status_code == 200, response.text
        return int(response.json()["kudos_received"])

    async def given_events(self) -> int:
        topic = self.settings.kafka_topic_prefix + Topic.RECOGNITION
        return await published_count(self.settings.kafka_bootstrap_servers, topic)


@pytest.fixture
async def recognition(infra: Infrastructure, unique: str) -> AsyncIterator[Recognition]:
    settings = settings_for(RecognitionSettings, infra, f"rcr{unique}")
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Recognition(client, settings)


def member() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


async def test_a_repeated_kudos_is_answered_as_the_first_and_counted_once(
    recognition: Recognition,
) -> None:
    giver, receiver, key = member(), member(), str(uuid.uuid4())
    first = await recognition.give(giver, key, receiver)
    repeat = await recognition.give(giver, key, receiver)
    assert_replayed(first, repeat)
    assert first.json()["applied"] is True
    # A later kudos in the same community (one partition) is judged after any repeat would be.
    marker = await recognition.give(member(), None, receiver)
    assert marker.json()["applied"] is True
    assert await recognition.received(receiver) == 2
    kudos = (await recognition.client.get(f"/kudos/{first.json()['kudos_id']}")).json()
    assert kudos["counted_for"] == [receiver]


async def test_the_same_key_for_another_kudos_is_refused(recognition: Recognition) -> None:
    giver, receiver, key = member(), member(), str(uuid.uuid4())
    assert (await recognition.give(giver, key, receiver)).status_code == 202
    other = await recognition.give(giver, key, member())
    problem = problem_of(other, 422)
    assert problem["code"] == "idempotency_key_reused"
    assert problem["errors"] == [
        {"field": "header.idempotency-key", "message": "used for another request"}
    ]


async def test_two_givers_with_the_same_key_give_two_kudos(recognition: Recognition) -> None:
    receiver, key = member(), str(uuid.uuid4())
    ann = await recognition.give(member(), key, receiver)
    bob = await recognition.give(member(), key, receiver)
    assert ann.status_code == bob.status_code == 202
    assert ann.json()["kudos_id"] != bob.json()["kudos_id"]
    assert "idempotent-replayed" not in bob.headers
    assert await recognition.received(receiver) == 2


async def test_concurrent_repeats_give_one_kudos(recognition: Recognition) -> None:
    giver, receiver, key = member(), member(), str(uuid.uuid4())
    before = await recognition.given_events()
    answers = await asyncio.gather(*(recognition.give(giver, key, receiver) for _ in range(6)))
    assert_answered_once(answers)
    # one kudos given and one judgement: nothing else reached the topic
    assert await recognition.given_events() == before + 2
    assert await recognition.received(receiver) == 1


async def test_a_refused_kudos_keeps_nothing(recognition: Recognition) -> None:
    giver, key = member(), str(uuid.uuid4())
    for _ in range(2):
        refused = await recognition.give(giver, key, giver)
        assert refused.status_code == 409
        assert refused.json()["code"] == "self_kudos"
        assert "idempotent-replayed" not in refused.headers


async def test_the_header_is_documented(recognition: Recognition) -> None:
    await documented_keys(recognition.client, "/kudos")
