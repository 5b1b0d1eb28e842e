"""Artifacts and their rules: publish, revise, retire, reuse, and the minutes stub of a session.

An artifact is `published` (version 1 and up), `retired` (kept, read-only, pointing to its
successor when it has one), or a `stub`: the minutes of a held session, created for its
facilitator to fill. Filling a stub publishes it. Only an author, the community's leader or an
admin may revise or retire an artifact.
"""

from dataclasses import dataclass, field
from typing import Any

from shared.actor import Actor as Actor
from shared.events.catalog import (
    ArtifactKind,
    ArtifactPublished,
    ArtifactRetired,
    ArtifactReused,
    ArtifactRevised,
    SessionHeld,
)
from shared.refusals import Forbidden, NotFound, Refused

CONTENT = (
    "title",
    "summary",
    "body_markdown",
    "url",
    "tags",
    "related_artifact_ids",
    "decision",
    "case_study",
)
"""The fields a revision may change."""

MINUTES_TEMPLATE = """## Notes

## Decisions

## Action items
"""


@dataclass(frozen=True)
class ArtifactState:
    artifact_id: str
    community_id: str
    kind: str
    status: str  # published, retired, stub
    version: int
    author_ids: tuple[str, ...]
    content: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None


MINUTES_PREFIX = "minutes-"


def minutes_id(session_id: str) -> str:
    return f"{MINUTES_PREFIX}{session_id}"


def minutes_stub(held: SessionHeld) -> dict[str, Any]:
    """The minutes a held session starts with: a stub its facilitator fills."""
    return {
        "artifact_id": minutes_id(held.session_id),
        "community_id": held.community_id,
        "kind": ArtifactKind.MINUTES.value,
        "title": f"Minutes: {held.title}"[:200],
        "summary": "",
        "body_markdown": MINUTES_TEMPLATE,
        "author_ids": [held.facilitator_id],
        "tags": [],
        "related_artifact_ids": [],
        "session_id": held.session_id,
    }


def _may_edit(state: ArtifactState, actor: Actor, leader_id: str | None) -> None:
    if actor.is_admin or actor.member_id in state.author_ids or actor.member_id == leader_id:
        return
    raise Forbidden(
        "not_author_leader_or_admin",
        f"{actor.member_id} is neither an author of {state.artifact_id} nor the community's leader",
    )


def require(state: ArtifactState | None, artifact_id: str) -> ArtifactState:
    if state is None:
        raise NotFound("unknown_artifact", f"no artifact {artifact_id}")
    return state


def publish(
    existing: ArtifactState | None, data: ArtifactPublished, actor: Actor
) -> ArtifactPublished:
    if existing is not None:
        raise Refused("artifact_exists", f"artifact {data.artifact_id} exists; revise it instead")
    if data.artifact_id.startswith(MINUTES_PREFIX):
        raise Refused("reserved_id", f"ids starting {MINUTES_PREFIX!r} are a session's minutes")
    if not actor.is_admin and actor.member_id not in data.author_ids:
        raise Forbidden("not_author", "publish in your own name: be one of the authors")
    if data.version != 1:
        raise Refused("first_version", "a new artifact starts at version 1")
    return data


def revise(
    state: ArtifactState | None,
    artifact_id: str,
    changes: dict[str, Any],
    change_note: str,
    actor: Actor,
    leader_id: str | None,
) -> ArtifactPublished | ArtifactRevised:
    """The next version; a stub's first filling publishes it."""
    state = require(state, artifact_id)
    _may_edit(state, actor, leader_id)
    if state.status == "retired":
        raise Refused("retired", f"{artifact_id} is retired; revise its successor")
    given = {k: v for k, v in changes.items() if k in CONTENT and v is not None}
    if state.status == "stub":
        filled = {**state.content, **given}
        if "url" in given:
            filled["body_markdown"] = None
        authors = list(state.author_ids)
        if not actor.is_admin and actor.member_id not in authors:
            authors.append(actor.member_id)
        return ArtifactPublished(
            artifact_id=artifact_id,
            community_id=state.community_id,
            kind=ArtifactKind(state.kind),
            author_ids=authors,
            session_id=state.session_id,
            version=1,
            **{k: v for k, v in filled.items() if k in CONTENT},
        )
    changed = {k: v for k, v in given.items() if _differs(state.content.get(k), v)}
    if not changed:
        raise Refused("unchanged", "the revision changes nothing")
    return ArtifactRevised(
        artifact_id=artifact_id,
        community_id=state.community_id,
        version=state.version + 1,
        editor_id=actor.member_id,
        change_note=change_note,
        **changed,
    )


def _differs(current: Any, new: Any) -> bool:
    if hasattr(new, "model_dump"):
        new = new.model_dump(mode="json")
    if new is not None and not isinstance(new, (str, list, dict, int)):
        new = str(new)
    return bool(current != new)


def retire(
    state: ArtifactState | None,
    artifact_id: str,
    reason: str,
    successor: ArtifactState | None,
    successor_id: str | None,
    actor: Actor,
    leader_id: str | None,
) -> ArtifactRetired:
    state = require(state, artifact_id)
    _may_edit(state, actor, leader_id)
    if state.status == "retired":
        raise Refused("retired", f"{artifact_id} is retired already")
    if state.status == "stub":
        raise Refused("not_published", f"{artifact_id} is an unfilled stub")
    if successor_id is not None:
        if successor_id == artifact_id:
            raise Refused("successor_is_itself", "an artifact cannot supersede itself")
        if successor is None or successor.status == "stub":
            raise Refused("unknown_successor", f"no published artifact {successor_id}")
        if successor.status == "retired":
            raise Refused("successor_retired", f"{successor_id} is retired too")
    return ArtifactRetired(
        artifact_id=artifact_id,
        community_id=state.community_id,
        version=state.version,
        editor_id=actor.member_id,
        reason=reason,
        superseded_by=successor_id,
    )


def reuse(
    state: ArtifactState | None,
    artifact_id: str,
    member_id: str,
    team: str,
    context: str,
    actor: Actor,
) -> ArtifactReused:
    state = require(state, artifact_id)
    if not actor.is_admin and actor.member_id != member_id:
        raise Forbidden("not_self", f"{actor.member_id} cannot record a reuse as {member_id}")
    if state.status == "stub":
        raise Refused("not_published", f"{artifact_id} is an unfilled stub")
    return ArtifactReused(
        artifact_id=artifact_id,
        community_id=state.community_id,
        member_id=member_id,
        team=team,
        context=context,
    )
