"""The knowledge service's MongoDB projection.

- `artifacts` (`<artifact id>`): the current state of each artifact (content, version, status,
  retirement, reuses). An artifact's events share its community's
  partition, so one consumer writes it, in order: a batch reads the documents it touches once,
  applies its events in memory and writes each back whole.
- `artifact_versions` (`<artifact id>|<version>`): every version as it was published, insert-only.
- `backlinks` (`<artifact id>`): the artifacts that link to it (added to and taken from a set).
- `member_teams` and `community_leaders`: each change, keyed by its event, the latest wins on read.

The search index is not here: each replica keeps its own from the topic (`search_index.py`).
"""

from collections.abc import Iterable
from datetime import datetime

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from services.knowledge.domain.artifacts import CONTENT, ArtifactState
from shared.documents import Doc
from shared.mongo import (
    MAX_BULK_STATEMENTS,
    MergedUpdates,
    insert_once,
    latest_change,
)

PROJECTION = (
    "artifacts",
    "artifact_versions",
    "backlinks",
    "member_teams",
    "community_leaders",
)


def state_of(doc: Doc | None) -> ArtifactState | None:
    if doc is None or "kind" not in doc:
        return None
    content = {k: doc.get(k) for k in CONTENT}
    return ArtifactState(
        artifact_id=doc["_id"],
        community_id=doc["community_id"],
        kind=doc["kind"],
        status=doc["status"],
        version=doc.get("version", 0),
        author_ids=tuple(doc.get("author_ids", [])),
        content=content,
        session_id=doc.get("session_id"),
    )


class KnowledgeProjection:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.artifacts = db["artifacts"]
        self.versions = db["artifact_versions"]
        self.backlinks = db["backlinks"]
        self.teams = db["member_teams"]
        self.leaders = db["community_leaders"]

    def unit_of_work(self) -> "KnowledgeWrites":
        return KnowledgeWrites(self)

    async def artifact(self, artifact_id: str) -> Doc | None:
        doc = await self.artifacts.find_one({"_id": artifact_id})
        return doc if doc is not None and "kind" in doc else None

    async def state(self, artifact_id: str) -> ArtifactState | None:
        return state_of(await self.artifact(artifact_id))

    async def many(
        self, artifact_ids: Iterable[str], projection: Doc | None = None
    ) -> dict[str, Doc]:
        ids = list(dict.fromkeys(artifact_ids))
        docs = await self.artifacts.find({"_id": {"$in": ids}}, projection).to_list(None)
        return {d["_id"]: d for d in docs if "kind" in d}

    async def leader(self, community_id: str) -> str | None:
        doc = await self.leaders.find_one({"_id": community_id})
        leader = latest_change((doc or {}).get("l"))
        return str(leader) if leader is not None else None

    async def teams_of(self, member_ids: Iterable[str]) -> dict[str, str]:
        docs = await self.teams.find({"_id": {"$in": list(set(member_ids))}}).to_list(None)
        return {d["_id"]: latest_change(d.get("t")) or "" for d in docs}

    async def linked_from(self, artifact_id: str) -> list[str]:
        doc = await self.backlinks.find_one({"_id": artifact_id})
        return sorted((doc or {}).get("from", []))

    async def version_docs(self, artifact_id: str, versions: Iterable[int]) -> list[Doc]:
        ids = [f"{artifact_id}|{v:06d}" for v in versions]
        docs = await self.versions.find({"_id": {"$in": ids}}).to_list(None)
        return sorted(docs, key=lambda d: int(d["version"]))


class KnowledgeWrites:
    """One batch: artifacts changed in memory, written back whole when the batch commits."""

    def __init__(self, projection: KnowledgeProjection) -> None:
        self.p = projection
        self._docs: dict[str, Doc] = {}
        self._versions: list[Doc] = []
        self._links: dict[tuple[str, str], bool] = {}
        self.updates = MergedUpdates()

    async def artifact(self, artifact_id: str) -> Doc | None:
        """The artifact's document as the batch has it so far (None if unknown)."""
        if artifact_id not in self._docs:
            doc = await self.p.artifacts.find_one({"_id": artifact_id})
            if doc is None:
                return None
            self._docs[artifact_id] = doc
        return self._docs[artifact_id]

    def put(self, doc: Doc) -> None:
        self._docs[doc["_id"]] = doc

    def version(self, doc: Doc) -> None:
        self._versions.append(doc)

    def link(self, source: str, targets: Iterable[str], *, removed: Iterable[str] = ()) -> None:
        """`source` now links to `targets` and no longer to `removed` (the last word wins)."""
        for target in targets:
            self._links[(target, source)] = True
        for target in removed:
            self._links[(target, source)] = False

    def team(self, member_id: str, key: str, at: datetime, team: str) -> None:
        self.updates.set_paths(self.p.teams, member_id, {f"t.{key}": [at, team]})

    def leader(self, community_id: str, key: str, at: datetime, leader_id: str) -> None:
        self.updates.set_paths(self.p.leaders, community_id, {f"l.{key}": [at, leader_id]})

    async def commit(self) -> None:
        writes = [ReplaceOne({"_id": i}, doc, upsert=True) for i, doc in self._docs.items()]
        await insert_once(self.p.versions, self._versions)
        pulls = MergedUpdates()
        for (target, source), present in self._links.items():
            if present:
                self.updates.add_to_set(self.p.backlinks, target, "from", source)
            else:
                pulls.pull(self.p.backlinks, target, "from", source)
        await self.updates.flush()
        await pulls.flush()
        # The artifact last: once it shows (`?wait=true` looks for it), its versions and links
        # do too.
        for start in range(0, len(writes), MAX_BULK_STATEMENTS):
            await self.p.artifacts.bulk_write(writes[start : start + MAX_BULK_STATEMENTS])
