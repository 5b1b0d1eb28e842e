"""The search index, kept in the service's own database and built by its projection.

- `search_terms` (`<term>|<shard>`): the postings of one term for the artifacts of one shard,
  `p.<key>` = [artifact id, frequency in title, tags, summary, body]. An artifact belongs to one
  of `SHARDS` shards by a hash of its id, so no term document holds more than about 1/`SHARDS` of
  the artifacts that use the term, and a query reads `SHARDS` documents per term, by `_id`.
- `search_catalog` (`<shard>`): per artifact of the shard, what filters and ranking need: its
  weighted length, kind, community, status, tags and authors.

Postings are set and unset per artifact key, so re-applying an artifact's events writes the same
fields again; every replica reads the same index, and a replay rebuilds it from the topics.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.knowledge.domain import ranking
from services.knowledge.domain.text import term_counts
from shared.mongo import MergedUpdates

SHARDS = 8
COLLECTIONS = ("search_terms", "search_catalog")


def artifact_key(artifact_id: str) -> str:
    return hashlib.sha1(artifact_id.encode()).hexdigest()[:16]


def shard_of(artifact_id: str) -> int:
    return int(artifact_key(artifact_id)[:8], 16) % SHARDS


@dataclass(frozen=True)
class Entry:
    artifact_id: str
    length: float
    kind: str
    community_id: str
    status: str
    tags: tuple[str, ...]
    author_ids: tuple[str, ...]


def field_texts(doc: dict[str, Any]) -> dict[str, str]:
    """The text of each ranked field of an artifact document."""
    extra = []
    for section in ("decision", "case_study"):
        extra += [str(v) for v in (doc.get(section) or {}).values()]
    return {
        "title": doc.get("title") or "",
        "tags": " ".join(t.replace("-", " ").replace("_", " ") for t in doc.get("tags") or []),
        "summary": doc.get("summary") or "",
        "body": "\n".join([doc.get("body_markdown") or "", *extra]),
    }


def frequencies(doc: dict[str, Any]) -> dict[str, list[int]]:
    """term → its count in each of `ranking.FIELDS`."""
    found: dict[str, list[int]] = {}
    for i, text in enumerate(field_texts(doc).values()):
        for term, count in term_counts(text).items():
            found.setdefault(term, [0] * len(ranking.FIELDS))[i] = count
    return found


VERSION = "version"


class SearchIndex:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.terms = db["search_terms"]
        self.catalog = db["search_catalog"]
        # The catalog read by every query, kept while its version (a token each projection
        # batch changes after writing) is unchanged: one small read instead of eight large ones.
        self._cached: tuple[str, dict[str, Entry]] | None = None

    async def changed(self) -> None:
        """After a batch's index writes are durable: readers must load the catalog again."""
        await self.catalog.update_one(
            {"_id": VERSION}, {"$set": {"token": uuid.uuid4().hex}}, upsert=True
        )

    def stage(
        self, updates: MergedUpdates, doc: dict[str, Any], old_terms: Iterable[str]
    ) -> list[str]:
        """Stage an artifact's postings and catalog entry; returns its terms, to be kept with it."""
        artifact_id = doc["_id"]
        key, shard = artifact_key(artifact_id), shard_of(artifact_id)
        counts = frequencies(doc) if doc.get("status") != "stub" else {}
        for term, per_field in counts.items():
            updates.set_paths(
                self.terms, f"{term}|{shard}", {f"p.{key}": [artifact_id, *per_field]}
            )
        for term in set(old_terms) - set(counts):
            updates.unset(self.terms, f"{term}|{shard}", f"p.{key}")
        length = sum(ranking.weighted(f) for f in counts.values())
        entry = [
            artifact_id,
            length,
            doc.get("kind"),
            doc.get("community_id"),
            doc.get("status"),
            doc.get("tags") or [],
            doc.get("author_ids") or [],
        ]
        updates.set_paths(self.catalog, str(shard), {f"a.{key}": entry})
        return sorted(counts)

    async def entries(self) -> dict[str, Entry]:
        version = await self.catalog.find_one({"_id": VERSION})
        token = str((version or {}).get("token", ""))
        if self._cached is not None and token and self._cached[0] == token:
            return self._cached[1]
        found = {}
        for doc in await self.catalog.find(
            {"_id": {"$in": [str(s) for s in range(SHARDS)]}}
        ).to_list(None):
            for artifact_id, length, kind, community, status, tags, authors in doc.get(
                "a", {}
            ).values():
                found[artifact_id] = Entry(
                    artifact_id, length, kind, community, status, tuple(tags), tuple(authors)
                )
        self._cached = (token, found)
        return found

    async def postings(self, terms: Sequence[str]) -> dict[str, dict[str, float]]:
        """term → artifact → weighted frequency, for the terms asked."""
        ids = [f"{t}|{s}" for t in terms for s in range(SHARDS)]
        found: dict[str, dict[str, float]] = {t: {} for t in terms}
        for doc in await self.terms.find({"_id": {"$in": ids}}).to_list(None):
            term = doc["_id"].rsplit("|", 1)[0]
            for artifact_id, *per_field in doc.get("p", {}).values():
                found[term][artifact_id] = ranking.weighted(per_field)
        return found
