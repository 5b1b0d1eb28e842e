"""The events service running in the test process against the real infrastructure."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for


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
        body = response.json()
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


@pytest.fixture
async def events(infra: Infrastructure, unique: str) -> AsyncIterator[EventsApp]:
    settings = settings_for(EventsSettings, infra, f"evt{unique}")
    async with serving(bootstrap(settings), "events") as client:
        yield EventsApp(client, settings)
    await drop_database(infra, settings.mongodb_database)
