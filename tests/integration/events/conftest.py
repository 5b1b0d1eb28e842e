"""The events service running in the test process against the real infrastructure."""

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient

import shared.runtime
from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, serving_anew, settings_for
from tests.integration.events.mongo_commands import Commands
from tests.integration.kafka_io import produce_raw
from tests.integration.polling import eventually


@dataclass
class EventsApp:
    client: httpx.AsyncClient
    settings: EventsSettings

    async def command(
        self, method: str, url: str, json: Any = None, expect: int = 202
    ) -> dict[str, Any]:
        """Send a command, wait until the projection shows its event, return the answer."""
        response = await self.client.request(method, url, json=json, params={"wait": "true"})
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        if expect == 202:
            assert body["applied"] is True
        return body

    async def get(self, url: str, **params: Any) -> Any:
        response = await self.client.get(url, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def new_community(self, leader: str = "lea", **extra: Any) -> str:
        community_id = f"c-{uuid.uuid4().hex[:8]}"
        await self.command(
            "POST",
            "/communities",
            {
                "community_id": community_id,
                "name": f"Testing guild {community_id}",
                "domain": "software testing",
                "charter": {
                    "purpose": "Share how we test",
                    "scope": "all product teams",
                    "goals": ["halve flaky tests"],
                    "success_measures": ["flaky test count"],
                },
                "leader_id": leader,
                **extra,
            },
        )
        return community_id

    async def join(self, community_id: str, *members: str) -> None:
        for member in members:
            await self.command(
                "POST", f"/communities/{community_id}/members", {"member_id": member}
            )

    async def wait_member(self, member_id: str, *, what: str) -> None:
        """Wait until the projection knows the member (from a profile event)."""

        async def known() -> bool:
            return (await self.client.get(f"/members/{member_id}")).status_code == 200

        await eventually(known, what=what)

    async def send_inbound(self, event: dict[str, Any]) -> None:
        """Produce an event as JSON straight to `cop.inbound`, without a key, as a source
        system on the bus does."""
        await produce_raw(
            self.settings.kafka_bootstrap_servers,
            self.settings.kafka_topic_prefix + str(Topic.INBOUND),
            json.dumps(event).encode(),
            key=None,
            headers={},
        )


@pytest.fixture
async def events(infra: Infrastructure, unique: str) -> AsyncIterator[EventsApp]:
    settings = settings_for(EventsSettings, infra, f"evt{unique}")
    async with serving_anew(infra, settings, bootstrap) as client:
        yield EventsApp(client, settings)


@pytest.fixture
async def watched(
    infra: Infrastructure, unique: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[EventsApp, Commands]]:
    """The events service whose MongoDB client reports every command it sends."""
    commands = Commands()

    def listening_client(uri: str, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
        return AsyncMongoClient(
            uri,
            appname=app_name,
            serverSelectionTimeoutMS=5000,
            tz_aware=True,
            event_listeners=[commands],
        )

    monkeypatch.setattr(shared.runtime, "make_client", listening_client)
    settings = settings_for(EventsSettings, infra, f"evt{unique}")
    async with serving(bootstrap(settings), "events") as client:
        commands.take()  # start-up (the sources' indexes) is not a hot path
        yield EventsApp(client, settings), commands
    await drop_database(infra, settings.mongodb_database)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the process finishes from now on (the app's provider is the global one)."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays; a stopped exporter keeps nothing
