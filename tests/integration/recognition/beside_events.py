"""Recognition beside the events service on one broker: what members do through the events API
shows in recognition's answers."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from services.events.bootstrap import bootstrap as events_app
from services.events.settings import EventsSettings
from services.recognition.bootstrap import bootstrap as recognition_app
from services.recognition.settings import RecognitionSettings
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import act_as, drop_database, serving, settings_for


@dataclass
class BesideEvents:
    events: httpx.AsyncClient
    recognition: httpx.AsyncClient

    async def act(self, member: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
        """A command to the events service in the member's name, once its event is applied."""
        return await act_as(self.events, member, method, url, body)

    async def community(self, leader: str, *members: str, **charter: Any) -> str:
        community_id = f"c-{uuid.uuid4().hex[:8]}"
        body = {
            "community_id": community_id,
            "name": f"Guild {community_id}",
            "domain": "testing",
            "charter": {"purpose": "Learn from each other", **charter},
            "leader_id": leader,
        }
        await self.act("ops", "POST", "/communities", body)
        for member in members:
            url = f"/communities/{community_id}/members"
            await self.act(member, "POST", url, {"member_id": member})
        return community_id

    async def read(self, url: str, **params: str) -> dict[str, Any]:
        return answer_of(await self.recognition.get(url, params=params))


@contextlib.asynccontextmanager
async def beside_events(infra: Infrastructure, namespace: str) -> AsyncIterator[BesideEvents]:
    events_settings = settings_for(EventsSettings, infra, namespace)
    recognition_settings = settings_for(RecognitionSettings, infra, namespace)
    try:
        async with (
            serving(events_app(events_settings), "events") as events,
            serving(recognition_app(recognition_settings), "recognition") as recognition,
        ):
            yield BesideEvents(events, recognition)
    finally:
        await drop_database(infra, events_settings.mongodb_database)
        await drop_database(infra, recognition_settings.mongodb_database)
