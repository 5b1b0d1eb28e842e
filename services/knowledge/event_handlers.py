"""How the knowledge service applies the events it consumes: one handler per event type."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from services.knowledge.domain.artifacts import CONTENT, minutes_stub
from shared.documents import Doc
from shared.events.catalog import (
    ArtifactPublished,
    ArtifactRetired,
    ArtifactReused,
    ArtifactRevised,
    CommunityCreated,
    CommunityLeaderChanged,
    MemberProfileUpdated,
    SessionHeld,
)
from shared.keys import field_key
from shared.messagebus import EventHandlers, Fact
from shared.mongo import bson_time


class ArtifactWrites(Protocol):
    """What the handlers write through: the projection's batch (`adapters/projection.py`), or
    the search index's (`adapters/search_index.py`), which keeps only the artifacts."""

    async def artifact(self, artifact_id: str) -> Doc | None:
        """The artifact as the batch has it so far (None if unknown)."""

    def put(self, doc: Doc) -> None: ...

    def version(self, doc: Doc) -> None: ...

    def link(self, source: str, targets: Iterable[str], *, removed: Iterable[str] = ()) -> None: ...

    def team(self, member_id: str, key: str, at: datetime, team: str) -> None: ...

    def leader(self, community_id: str, key: str, at: datetime, leader_id: str) -> None: ...

    async def commit(self) -> None: ...


W = ArtifactWrites


def _version_doc(doc: dict[str, Any], fact: Fact[Any], editor: str, note: str) -> dict[str, Any]:
    return {
        "_id": f"{doc['_id']}|{doc['version']:06d}",
        "artifact_id": doc["_id"],
        "version": doc["version"],
        "editor_id": editor,
        "change_note": note,
        "at": bson_time(fact.time),
        "event_id": fact.event_id,
        **{k: doc.get(k) for k in CONTENT},
    }


async def artifact_published(fact: Fact[ArtifactPublished], uow: W) -> None:
    a = fact.data
    current = await uow.artifact(a.artifact_id)
    if current is not None and current.get("status") in ("published", "retired"):
        return  # published already: a repeated or second publication changes nothing
    doc = {
        "_id": a.artifact_id,
        **a.model_dump(mode="json", exclude={"artifact_id"}),
        "status": "published",
        "published_at": bson_time(fact.time),
        "updated_at": bson_time(fact.time),
        "reuses": (current or {}).get("reuses", {}),
    }
    uow.put(doc)
    uow.version(_version_doc(doc, fact, a.author_ids[0], "published"))
    uow.link(a.artifact_id, a.related_artifact_ids)


async def artifact_revised(fact: Fact[ArtifactRevised], uow: W) -> None:
    r = fact.data
    doc = await uow.artifact(r.artifact_id)
    if doc is None or "kind" not in doc or doc.get("version", 0) >= r.version:
        return  # unknown here (a revision without its publication), or applied already
    changes = r.model_dump(mode="json", include=set(CONTENT), exclude_none=True)
    if "url" in changes:
        changes["body_markdown"] = None
    elif "body_markdown" in changes:
        changes["url"] = None
    before = set(doc.get("related_artifact_ids") or [])
    doc.update(changes, version=r.version, updated_at=bson_time(fact.time))
    after = set(doc.get("related_artifact_ids") or [])
    uow.link(r.artifact_id, after - before, removed=before - after)
    uow.version(_version_doc(doc, fact, r.editor_id, r.change_note))


async def artifact_retired(fact: Fact[ArtifactRetired], uow: W) -> None:
    r = fact.data
    doc = await uow.artifact(r.artifact_id)
    if doc is None or "kind" not in doc:
        return
    doc["status"] = "retired"
    doc["retired"] = {
        "reason": r.reason,
        "superseded_by": r.superseded_by,
        "by": r.editor_id,
        "at": bson_time(fact.time),
    }


async def artifact_reused(fact: Fact[ArtifactReused], uow: W) -> None:
    r = fact.data
    doc = await uow.artifact(r.artifact_id)
    if doc is None or "kind" not in doc:
        return
    doc.setdefault("reuses", {})[field_key(fact.event_id)] = {
        "member_id": r.member_id,
        "team": r.team,
        "context": r.context,
        "at": bson_time(fact.time),
    }


async def session_held(fact: Fact[SessionHeld], uow: W) -> None:
    stub = minutes_stub(fact.data)
    if await uow.artifact(stub["artifact_id"]) is not None:
        return
    uow.put(
        {
            "_id": stub.pop("artifact_id"),
            **stub,
            "status": "stub",
            "version": 0,
            "published_at": None,
            "updated_at": bson_time(fact.time),
            "reuses": {},
        }
    )


async def profile_updated(fact: Fact[MemberProfileUpdated], uow: W) -> None:
    p = fact.data
    uow.team(p.member_id, field_key(fact.event_id), bson_time(fact.time), p.team)


async def community_created(fact: Fact[CommunityCreated], uow: W) -> None:
    c = fact.data
    uow.leader(c.community_id, field_key(fact.event_id), bson_time(fact.time), c.leader_id)


async def leader_changed(fact: Fact[CommunityLeaderChanged], uow: W) -> None:
    c = fact.data
    uow.leader(c.community_id, field_key(fact.event_id), bson_time(fact.time), c.leader_id)


def event_handlers(unit_of_work: Callable[[], W]) -> EventHandlers[W]:
    """The registry, for a unit of work: the projection's, or the search index's."""
    return (
        EventHandlers("knowledge", unit_of_work)
        .on(ArtifactPublished, artifact_published)
        .on(ArtifactRevised, artifact_revised)
        .on(ArtifactRetired, artifact_retired)
        .on(ArtifactReused, artifact_reused)
        .on(SessionHeld, session_held)
        .on(MemberProfileUpdated, profile_updated)
        .on(CommunityCreated, community_created)
        .on(CommunityLeaderChanged, leader_changed)
    )
