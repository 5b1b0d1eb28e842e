"""The knowledge service's reads: an artifact with its links, reuses and successor; its versions
and their diff (by `_id`, from the projection); search and related artifacts (from this
replica's search index)."""

import math
from dataclasses import dataclass

from services.knowledge.adapters.projection import KnowledgeProjection
from services.knowledge.adapters.search_index import Hit, SearchIndex
from services.knowledge.domain import diff
from services.knowledge.domain.snippets import snippet
from services.knowledge.domain.text import terms
from shared.documents import Doc
from shared.refusals import NotFound

RELATED_TAG_WEIGHT = 2.0
RELATED_TERMS = 10


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    tag: str | None = None
    community: str | None = None
    author: str | None = None
    status: str = "published"  # published, retired or all (a stub is never searched)

    def where(self) -> dict[str, str]:
        """The index's filter fields and the value each must have."""
        asked = {
            "kind": self.kind,
            "tag": self.tag,
            "community": self.community,
            "author": self.author,
            "status": None if self.status == "all" else self.status,
        }
        return {field: value for field, value in asked.items() if value is not None}


def _text(version: Doc) -> str:
    """A version as the text a diff compares: title, summary, then the body (or the URL)."""
    body = version.get("body_markdown") or version.get("url") or ""
    return f"# {version.get('title') or ''}\n\n{version.get('summary') or ''}\n\n{body}\n"


class KnowledgeQueries:
    def __init__(self, projection: KnowledgeProjection, index: SearchIndex) -> None:
        self._p = projection
        self._index = index

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
        found = self._index.search(query_terms, filters.where(), (page - 1) * size, size)
        wanted = set(query_terms)
        return {
            "query": q,
            "terms": query_terms,
            "total": found.total,
            "page": page,
            "size": size,
            "pages": math.ceil(found.total / size),
            "items": [_item(hit, wanted) for hit in found.hits],
        }

    async def related(self, artifact_id: str, limit: int) -> list[Doc]:
        """Artifacts that share tags or words of the title and tags, best first."""
        doc = await self._p.artifact(artifact_id)
        if doc is None:
            raise NotFound("unknown_artifact", f"no artifact {artifact_id}")
        text = " ".join([doc.get("title") or "", *(doc.get("tags") or [])])
        tags = set(doc.get("tags") or [])
        query = list(dict.fromkeys(terms(text)))[:RELATED_TERMS]
        hits = self._index.related(query, tags, RELATED_TAG_WEIGHT, artifact_id, limit)
        return [
            {
                "artifact_id": hit.artifact_id,
                "title": hit.doc.get("title"),
                "kind": hit.doc.get("kind"),
                "shared_tags": sorted(tags & set(hit.doc.get("tags") or [])),
                "score": round(hit.score, 4),
            }
            for hit in hits
        ]


def _item(hit: Hit, wanted: set[str]) -> Doc:
    """A search hit: the artifact as the index holds it, its score and highlighted excerpts."""
    doc = hit.doc
    text = " ".join(filter(None, [doc.get("summary"), doc.get("body_markdown")]))
    return {
        "artifact_id": hit.artifact_id,
        "title": doc.get("title"),
        "kind": doc.get("kind"),
        "community_id": doc.get("community_id"),
        "status": doc.get("status"),
        "tags": doc.get("tags") or [],
        "author_ids": doc.get("author_ids") or [],
        "superseded_by": (doc.get("retired") or {}).get("superseded_by"),
        "score": round(hit.score, 4),
        "title_highlighted": snippet(doc.get("title") or "", wanted, width=200),
        "snippet": snippet(text, wanted),
    }
