"""The knowledge service's reads: an artifact with its links, reuses and successor; its versions
and their diff; search; related artifacts. Every read is by `_id`."""

import math
from dataclasses import dataclass
from typing import Any

from services.knowledge.adapters.projection import KnowledgeProjection
from services.knowledge.adapters.search_index import Entry
from services.knowledge.domain import diff, ranking
from services.knowledge.domain.errors import NotFound
from services.knowledge.domain.snippets import snippet
from services.knowledge.domain.text import terms

Doc = dict[str, Any]
RELATED_TAG_WEIGHT = 2.0
RELATED_TERMS = 10


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    tag: str | None = None
    community: str | None = None
    author: str | None = None
    status: str = "published"  # published, retired or all

    def admit(self, e: Entry) -> bool:
        if e.status == "stub":
            return False
        if self.status != "all" and e.status != self.status:
            return False
        return (
            (self.kind is None or e.kind == self.kind)
            and (self.tag is None or self.tag in e.tags)
            and (self.community is None or e.community_id == self.community)
            and (self.author is None or self.author in e.author_ids)
        )


def _text(version: Doc) -> str:
    """A version as the text a diff compares: title, summary, then the body (or the URL)."""
    body = version.get("body_markdown") or version.get("url") or ""
    return f"# {version.get('title') or ''}\n\n{version.get('summary') or ''}\n\n{body}\n"


class KnowledgeQueries:
    def __init__(self, projection: KnowledgeProjection) -> None:
        self._p = projection

    async def artifact(self, artifact_id: str) -> Doc:
        doc = await self._p.artifact(artifact_id)
        if doc is None:
            raise NotFound("unknown_artifact", f"no artifact {artifact_id}")
        reuses = list((doc.pop("reuses", None) or {}).values())
        reuses.sort(key=lambda r: r["at"])
        author_teams = set((await self._p.teams_of(doc.get("author_ids", []))).values()) - {""}
        teams = sorted({r["team"] for r in reuses if r["team"]})
        retired = doc.get("retired")
        return {
            "artifact_id": doc.pop("_id"),
            **doc,
            "superseded_by": (retired or {}).get("superseded_by"),
            "linked_from": await self._p.linked_from(artifact_id),
            "reuse": {
                "count": len(reuses),
                "teams": teams,
                "other_teams": [t for t in teams if t not in author_teams],
                "reuses": reuses,
            },
        }

    async def versions(self, artifact_id: str) -> list[Doc]:
        doc = await self._p.artifact(artifact_id)
        if doc is None:
            raise NotFound("unknown_artifact", f"no artifact {artifact_id}")
        found = await self._p.version_docs(artifact_id, range(1, int(doc.get("version", 0)) + 1))
        return [
            {k: v.get(k) for k in ("version", "editor_id", "at", "change_note", "title")}
            for v in found
        ]

    async def diff(self, artifact_id: str, first: int, second: int) -> str:
        found = {v["version"]: v for v in await self._p.version_docs(artifact_id, (first, second))}
        for version in (first, second):
            if version not in found:
                raise NotFound("unknown_version", f"{artifact_id} has no version {version}")
        return diff.unified(
            _text(found[first]),
            _text(found[second]),
            from_label=f"{artifact_id} v{first}",
            to_label=f"{artifact_id} v{second}",
        )

    async def search(self, q: str, filters: Filters, page: int, size: int) -> Doc:
        query_terms = list(dict.fromkeys(terms(q)))
        ranked = await self._rank(query_terms, filters) if query_terms else []
        start = (page - 1) * size
        window = ranked[start : start + size]
        docs = await self._p.many(
            [a for a, _ in window],
            {
                "title": 1,
                "summary": 1,
                "body_markdown": 1,
                "kind": 1,
                "community_id": 1,
                "status": 1,
                "tags": 1,
                "author_ids": 1,
                "retired": 1,
                "updated_at": 1,
            },
        )
        wanted = set(query_terms)
        items = []
        for artifact_id, score in window:
            doc = docs.get(artifact_id)
            if doc is None:
                continue
            text = " ".join(filter(None, [doc.get("summary"), doc.get("body_markdown")]))
            items.append(
                {
                    "artifact_id": artifact_id,
                    "title": doc.get("title"),
                    "kind": doc.get("kind"),
                    "community_id": doc.get("community_id"),
                    "status": doc.get("status"),
                    "tags": doc.get("tags") or [],
                    "author_ids": doc.get("author_ids") or [],
                    "superseded_by": (doc.get("retired") or {}).get("superseded_by"),
                    "score": round(score, 4),
                    "title_highlighted": snippet(doc.get("title") or "", wanted, width=200),
                    "snippet": snippet(text, wanted),
                }
            )
        return {
            "query": q,
            "terms": query_terms,
            "total": len(ranked),
            "page": page,
            "size": size,
            "pages": math.ceil(len(ranked) / size),
            "items": items,
        }

    async def _rank(
        self, query_terms: list[str], filters: Filters, *, boost: dict[str, float] | None = None
    ) -> list[tuple[str, float]]:
        entries = await self._p.index.entries()
        corpus = ranking.Corpus(
            documents=len(entries),
            average_length=sum(e.length for e in entries.values()) / max(len(entries), 1),
        )
        postings = await self._p.index.postings(query_terms)
        lengths = {a: e.length for a, e in entries.items()}
        scored = ranking.scores(postings, lengths, corpus)
        for artifact_id, extra in (boost or {}).items():
            scored[artifact_id] = scored.get(artifact_id, 0.0) + extra
        admitted = [(a, s) for a, s in scored.items() if a in entries and filters.admit(entries[a])]
        return sorted(admitted, key=lambda r: (-r[1], r[0]))

    async def related(self, artifact_id: str, limit: int) -> list[Doc]:
        """Artifacts that share tags or words of the title and tags, best first."""
        doc = await self._p.artifact(artifact_id)
        if doc is None:
            raise NotFound("unknown_artifact", f"no artifact {artifact_id}")
        text = " ".join([doc.get("title") or "", *(doc.get("tags") or [])])
        tags = set(doc.get("tags") or [])
        entries = await self._p.index.entries()
        boost = {
            a: RELATED_TAG_WEIGHT * len(tags & set(e.tags))
            for a, e in entries.items()
            if tags & set(e.tags)
        }
        query = list(dict.fromkeys(terms(text)))[:RELATED_TERMS]
        ranked = [
            (a, s) for a, s in await self._rank(query, Filters(), boost=boost) if a != artifact_id
        ]
        top = ranked[:limit]
        docs = await self._p.many([a for a, _ in top], {"title": 1, "kind": 1, "tags": 1})
        return [
            {
                "artifact_id": a,
                "title": docs[a].get("title"),
                "kind": docs[a].get("kind"),
                "shared_tags": sorted(tags & set(docs[a].get("tags") or [])),
                "score": round(s, 4),
            }
            for a, s in top
            if a in docs
        ]
