"""The knowledge service's commands: load, let the domain decide, publish. Reads are in
`queries.py`; the events it consumes in `event_handlers.py`."""

from collections.abc import Callable
from typing import Any

from services.knowledge.adapters.ids import ArtifactIds
from services.knowledge.adapters.projection import KnowledgeProjection
from services.knowledge.adapters.search_index import SearchIndex
from services.knowledge.domain import artifacts
from shared.actor import Actor
from shared.documents import Doc
from shared.events.catalog import ArtifactPublished, ArtifactRevised, EventData
from shared.events.envelope import CloudEvent
from shared.kafka import EventBus
from shared.refusals import Refused
from shared.waiting import wait_until

SOURCE = "cop/knowledge"


class KnowledgeCommands:
    def __init__(
        self,
        bus: EventBus,
        projection: KnowledgeProjection,
        ids: ArtifactIds,
        index: SearchIndex,
    ) -> None:
        self._bus = bus
        self.projection = projection
        self._ids = ids
        self._index = index

    async def _publish(self, data: EventData) -> CloudEvent:
        return await self._bus.emit(data, source=SOURCE)

    async def publish(self, data: ArtifactPublished, actor: Actor) -> CloudEvent:
        existing = await self.projection.state(data.artifact_id)
        decided = artifacts.publish(existing, data, actor)
        # The projection may not show an artifact published a moment ago: the id is also
        # reserved in Redis, so two requests for one id cannot both publish.
        if not await self._ids.reserve(data.artifact_id):
            raise _being_published(data.artifact_id)
        try:
            return await self._publish(decided)
        except BaseException:
            await self._ids.release(data.artifact_id)
            raise

    async def check_publish(self, data: ArtifactPublished, actor: Actor) -> ArtifactPublished:
        """What `publish` would decide, publishing and reserving nothing (a dry run): the
        event, or the refusal `publish` would raise."""
        decided = artifacts.publish(await self.projection.state(data.artifact_id), data, actor)
        if await self._ids.reserved(data.artifact_id):
            raise _being_published(data.artifact_id)
        return decided

    async def revise(
        self, artifact_id: str, changes: dict[str, Any], change_note: str, actor: Actor
    ) -> CloudEvent:
        return await self._publish(
            await self.check_revise(artifact_id, changes, change_note, actor)
        )

    async def check_revise(
        self, artifact_id: str, changes: dict[str, Any], change_note: str, actor: Actor
    ) -> ArtifactPublished | ArtifactRevised:
        """What `revise` would publish (a dry run publishes nothing), or its refusal."""
        state = await self.projection.state(artifact_id)
        leader = await self.projection.leader(state.community_id) if state else None
        return artifacts.revise(state, artifact_id, changes, change_note, actor, leader)

    async def retire(
        self, artifact_id: str, reason: str, superseded_by: str | None, actor: Actor
    ) -> CloudEvent:
        state = await self.projection.state(artifact_id)
        successor = await self.projection.state(superseded_by) if superseded_by else None
        leader = await self.projection.leader(state.community_id) if state else None
        decided = artifacts.retire(
            state, artifact_id, reason, successor, superseded_by, actor, leader
        )
        return await self._publish(decided)

    async def reuse(
        self, artifact_id: str, member_id: str, team: str, context: str, actor: Actor
    ) -> CloudEvent:
        state = await self.projection.state(artifact_id)
        return await self._publish(
            artifacts.reuse(state, artifact_id, member_id, team, context, actor)
        )

    async def wait_for(
        self, artifact_id: str, shows: Callable[[Doc], bool], timeout_s: float = 10.0
    ) -> bool:
        """Until the projection's artifact satisfies `shows` (e.g. has reached a version) and
        this replica's search index holds the artifact as the projection does."""

        async def check() -> bool:
            doc = await self.projection.artifact(artifact_id)
            return (
                doc is not None
                and shows(doc)
                and self._index.shows(artifact_id, int(doc.get("version", 0)), doc["status"])
            )

        return await wait_until(check, timeout_s=timeout_s)


def _being_published(artifact_id: str) -> Refused:
    return Refused("artifact_exists", f"artifact {artifact_id} is being published")
