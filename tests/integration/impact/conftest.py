"""The gateway (the events service) and the impact service, running in the test process on the
real infrastructure with the same topics: CI/CD systems send CDEvents to the gateway, the impact
service reads what it routes."""

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap as events_bootstrap
from services.events.settings import EventsSettings
from services.impact import rebuild
from services.impact.bootstrap import bootstrap as impact_bootstrap
from services.impact.settings import ImpactSettings
from shared.events.cdevents import FAMILIES
from shared.events.envelope import CloudEvent
from shared.lag import GroupLag
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.kafka_io import produce_events
from tests.integration.polling import eventually

BATCH = "application/cloudevents-batch+json"


@dataclass
class Platform:
    infra: Infrastructure
    events: httpx.AsyncClient
    events_settings: EventsSettings
    impact_settings: ImpactSettings
    _impact: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    impact_client: httpx.AsyncClient | None = None

    @property
    def impact(self) -> httpx.AsyncClient:
        assert self.impact_client is not None, "the impact service is stopped"
        return self.impact_client

    async def start_impact(self) -> None:
        app = impact_bootstrap(self.impact_settings)
        self.impact_client = await self._impact.enter_async_context(serving(app, "impact"))

    async def stop_impact(self) -> None:
        await self._impact.aclose()
        self.impact_client = None

    async def register_ci(self, name: str = "ci", types: Sequence[str] = tuple(FAMILIES)) -> str:
        """A CI/CD system's key, scoped to the CDEvents families."""
        response = await self.events.post("/sources", json={"name": name, "types": list(types)})
        assert response.status_code == 201, response.text
        return str(response.json()["api_key"])

    async def ingest(
        self, key: str, events: Sequence[dict[str, Any]], *, batch: int = 200
    ) -> list[dict[str, Any]]:
        """Send events through `POST /ingest` in batched mode; every one must be accepted or a
        duplicate. Returns the results."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(events), batch):
            response = await self.events.post(
                "/ingest",
                content=json.dumps(list(events[start : start + batch])),
                headers={"Authorization": f"Bearer {key}", "content-type": BATCH},
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["rejected"] == 0, [r for r in answer["results"] if "reason" in r]
            results.extend(answer["results"])
        return results

    async def publish(self, events: list[CloudEvent]) -> None:
        """The communities' events, straight onto their topics."""
        prefix = self.impact_settings.kafka_topic_prefix
        await produce_events(self.infra.kafka_bootstrap_servers, prefix, events)

    async def caught_up(self) -> None:
        """Until the impact service has applied everything on its topics."""
        settings = self.impact_settings
        topics = [settings.kafka_topic_prefix + t for t in rebuild.TOPICS]
        lag = GroupLag(self.infra.kafka_bootstrap_servers, settings.kafka_consumer_group, topics)
        await lag.start()
        try:

            async def none_behind() -> bool:
                return await lag.records_behind() == 0

            await eventually(none_behind, what="the impact service to catch up", timeout_s=60)
        finally:
            await lag.stop()

    async def owner(self, service: str, team: str, **body: Any) -> dict[str, Any]:
        response = await self.impact.put(
            f"/services/{service}", params={"wait": "true"}, json={"team": team, **body}
        )
        assert response.status_code in (200, 202), response.text
        answer: dict[str, Any] = response.json()
        assert answer["applied"] is True
        return answer

    async def figures(self, team: str, period: str) -> dict[str, Any]:
        response = await self.impact.get(f"/teams/{team}/impact", params={"period": period})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@contextlib.asynccontextmanager
async def platform_for(infra: Infrastructure, namespace: str) -> AsyncIterator[Platform]:
    events_settings = settings_for(EventsSettings, infra, namespace)
    impact_settings = settings_for(ImpactSettings, infra, namespace)
    try:
        async with serving(events_bootstrap(events_settings), "events") as events:
            platform = Platform(infra, events, events_settings, impact_settings)
            await platform.start_impact()
            try:
                yield platform
            finally:
                await platform.stop_impact()
    finally:
        await drop_database(infra, events_settings.mongodb_database)
        await drop_database(infra, impact_settings.mongodb_database)


@pytest.fixture
async def platform(infra: Infrastructure, unique: str) -> AsyncIterator[Platform]:
    async with platform_for(infra, f"imp{unique}") as running:
        yield running
