"""What the health-check tests share: recognition on the real stack, a community of its own
(its members' joins and its founding sent to Kafka as the events service would), and the
calls a leader and members make."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import Charter, CommunityCreated, MemberJoined
from shared.events.envelope import new_event
from shared.events.topics import Topic
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import bearer, serving_anew, settings_for
from tests.integration.kafka_io import body, headers, produce_events
from tests.integration.polling import eventually
from tests.integration.recognition.test_health import read_topic

Answers = dict[str, dict[str, Any]]


@dataclass
class Stack:
    infra: Infrastructure
    client: httpx.AsyncClient
    settings: RecognitionSettings

    @property
    def recognition_topic(self) -> str:
        return self.settings.kafka_topic_prefix + str(Topic.RECOGNITION)

    async def records(self, event_type: str) -> list[dict[str, Any]]:
        """Every event of the type on cop.recognition, as published."""
        records: list[ConsumerRecord[Any, Any]] = await read_topic(
            self.infra.kafka_bootstrap_servers, self.recognition_topic
        )
        return [body(r) for r in records if headers(r).get("ce_type") == event_type]

    async def raw_records(self) -> list[bytes]:
        records = await read_topic(self.infra.kafka_bootstrap_servers, self.recognition_topic)
        return [r.value for r in records]


async def running(infra: Infrastructure) -> AsyncIterator[Stack]:
    """Recognition in a namespace of its own, closing due rounds every 0.2 s."""
    settings = settings_for(
        RecognitionSettings,
        infra,
        f"hc{uuid.uuid4().hex[:8]}",
        health_check_close_interval_s=0.2,
    )
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Stack(infra, client, settings)


@dataclass
class Community:
    stack: Stack
    community_id: str
    leader: str
    members: list[str] = field(default_factory=list)

    async def open_round(self, *, closes_in: timedelta = timedelta(hours=1), **extra: Any) -> str:
        response = await self.open_round_raw(closes_in=closes_in, **extra)
        assert response.status_code == 202, response.text
        assert response.json()["applied"] is True
        round_id: str = response.json()["round_id"]
        return round_id

    async def open_round_raw(
        self,
        *,
        closes_in: timedelta = timedelta(hours=1),
        as_: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        closes_at = datetime.now(UTC) + closes_in
        payload = {"template": "cop-health", "closes_at": closes_at.isoformat(), **extra}
        return await self.stack.client.post(
            f"/communities/{self.community_id}/health-checks?wait=true",
            json=payload,
            headers=bearer(as_ or self.leader),
        )

    async def answer(self, round_id: str, member: str, cards: Answers) -> httpx.Response:
        return await self.stack.client.put(
            f"/health-checks/{round_id}/answers", json={"cards": cards}, headers=bearer(member)
        )

    async def answer_all(self, round_id: str, answers: dict[str, Answers]) -> None:
        for member, cards in answers.items():
            response = await self.answer(round_id, member, cards)
            assert response.status_code == 200, response.text

    async def close(self, round_id: str) -> None:
        response = await self.stack.client.post(
            f"/health-checks/{round_id}/close?wait=true", headers=bearer(self.leader)
        )
        assert response.status_code == 202, response.text
        assert response.json()["applied"] is True

    async def results(self, round_id: str) -> dict[str, Any]:
        response = await self.stack.client.get(
            f"/health-checks/{round_id}/results", headers=bearer(self.leader)
        )
        return answer_of(response)

    async def rounds(self, as_: str | None = None) -> list[dict[str, Any]]:
        response = await self.stack.client.get(
            f"/communities/{self.community_id}/health-checks", headers=bearer(as_ or self.leader)
        )
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()["rounds"]
        return listed


async def community(stack: Stack, size: int) -> Community:
    """A community with a leader and `size` members, once recognition knows all of them."""
    suffix = uuid.uuid4().hex[:8]
    found = Community(stack, f"guild-{suffix}", f"lead-{suffix}")
    found.members = [f"m{n}-{suffix}" for n in range(1, size + 1)]
    source = "test/health-checks"
    joins = [
        new_event(MemberJoined(community_id=found.community_id, member_id=m), source=source)
        for m in found.members
    ]
    created = CommunityCreated(
        community_id=found.community_id,
        name="Testing guild",
        domain="quality",
        charter=Charter(purpose="Share testing practice"),
        leader_id=found.leader,
    )
    # One key, one partition: once the founding shows, the joins before it do too.
    events = [*joins, new_event(created, source=source)]
    await produce_events(
        stack.infra.kafka_bootstrap_servers, stack.settings.kafka_topic_prefix, events
    )

    async def known() -> bool:
        # A round closing in the past is refused (422) only once the leader is known (else 404),
        # and opens nothing.
        response = await found.open_round_raw(closes_in=timedelta(hours=-1))
        return response.status_code == 422

    await eventually(known, what=f"recognition to know {found.community_id}")
    return found
