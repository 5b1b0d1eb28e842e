"""Publishing, revising and recording a reuse take `Idempotency-Key`: a repeat gets the first
answer and publishes nothing."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.knowledge.bootstrap import bootstrap
from services.knowledge.settings import KnowledgeSettings
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import bearer, serving_anew, settings_for
from tests.integration.idempotency import assert_replayed, documented_keys
from tests.integration.kafka_io import published_count

pytestmark = pytest.mark.integration

AUTHOR = "ada"


@dataclass
class Knowledge:
    client: httpx.AsyncClient
    settings: KnowledgeSettings

    async def post(self, url: str, body: dict[str, Any], key: str) -> httpx.Response:
        headers = bearer(AUTHOR) | {"Idempotency-Key": key}
        return await self.client.post(url, json=body, params={"wait": "true"}, headers=headers)

    async def published(self) -> int:
        topic = self.settings.kafka_topic_prefix + Topic.KNOWLEDGE
        return await published_count(self.settings.kafka_bootstrap_servers, topic)

    async def twice(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """The command twice with one key: the same answer, one event on the topic."""
        before, key = await self.published(), str(uuid.uuid4())
        first = await self.post(url, body, key)
        repeat = await self.post(url, body, key)
        assert_replayed(first, repeat)
        assert await self.published() == before + 1
        return dict(first.json())


@pytest.fixture
async def knowledge(infra: Infrastructure, unique: str) -> AsyncIterator[Knowledge]:
    settings = settings_for(KnowledgeSettings, infra, f"knr{unique}")
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Knowledge(client, settings)


ARTIFACT = {
    "community_id": "platform-guild",
    "kind": "pattern",
    "title": "Idempotent receiver",
    "body_markdown": "Drop a message you have handled before.",
}


async def test_a_repeated_publication_publishes_one_artifact(knowledge: Knowledge) -> None:
    answer = await knowledge.twice("/artifacts", ARTIFACT)
    found = await knowledge.client.get("/search", params={"q": "idempotent receiver"})
    assert [hit["artifact_id"] for hit in found.json()["items"]] == [answer["artifact_id"]]


async def test_a_repeated_revision_and_reuse_are_recorded_once(knowledge: Knowledge) -> None:
    published = await knowledge.post("/artifacts", ARTIFACT, str(uuid.uuid4()))
    artifact_id = published.json()["artifact_id"]
    revised = await knowledge.twice(
        f"/artifacts/{artifact_id}/revisions",
        {"change_note": "name the pattern's source", "summary": "From Enterprise Integration"},
    )
    assert revised["version"] == 2
    await knowledge.twice(
        f"/artifacts/{artifact_id}/reuses", {"team": "payments", "context": "the ledger"}
    )
    artifact = (await knowledge.client.get(f"/artifacts/{artifact_id}")).json()
    assert artifact["version"] == 2
    assert artifact["reuse"]["count"] == 1


async def test_the_same_key_for_another_artifact_is_refused(knowledge: Knowledge) -> None:
    key = str(uuid.uuid4())
    assert (await knowledge.post("/artifacts", ARTIFACT, key)).status_code == 202
    other = await knowledge.post("/artifacts", {**ARTIFACT, "title": "Outbox"}, key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_each_create_route_documents_the_header(knowledge: Knowledge) -> None:
    await documented_keys(
        knowledge.client,
        "/artifacts",
        "/artifacts/{artifact_id}/revisions",
        "/artifacts/{artifact_id}/reuses",
    )
