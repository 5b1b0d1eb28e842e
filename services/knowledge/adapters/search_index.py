"""The search index: a tantivy index on this replica's own disk, kept by the replica from the
knowledge topic (`entrypoints/search_feed.py`), a read model that rebuilds itself by replay.

- One document per published or retired artifact (a stub is never searched): `id`; `text`, the
  artifact's index terms (`domain/text.py`), each field repeated `ranking.REPEATS` times its
  weight, so that tantivy's BM25 is the one `domain/ranking.py` states; `kind`, `community`,
  `status`, `tag` and `author` to filter on; `doc`, what the artifact's events fold into (its
  content, kind, community, status, version, authors, retirement), which is both what a later
  revision applies to and what a search answers with.
- `positions.json`: per partition of the topic, the offset after the last event the index holds,
  written after each commit. A crash between the two leaves the index ahead of its positions,
  never behind: the events it then reads again are applied again, which changes nothing (the
  handlers skip a publication, revision or retirement they have seen), so no artifact is missing
  from search after a restart.
- `FORMAT` names the schema and analysis: an index of another format, of another topic, or
  without positions is deleted and built again from the start of the topic.
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import tantivy

from services.knowledge.domain import ranking
from services.knowledge.domain.artifacts import CONTENT
from services.knowledge.domain.text import terms
from shared.documents import Doc

log = logging.getLogger(__name__)
FORMAT = 1
"""Raise it when the schema, the stored document or the analysis changes: every replica then
builds its index again from the topic."""
POSITIONS = "positions.json"
STORED = (*CONTENT, "kind", "community_id", "status", "version", "author_ids", "session_id")
SEARCHED = ("published", "retired")
"""The statuses an artifact is indexed in: a stub is not searched until its first revision."""
ENGINE_K1 = 1.2  # tantivy's, fixed
SCALE = (ENGINE_K1 + 1) / (ranking.K1 + 1)
"""tantivy's score over `ranking.scores`' for the same artifact (module doc of `ranking`)."""
FILTERS = ("kind", "community", "tag", "author", "status")
WRITER_HEAP_BYTES = 32_000_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", tokenizer_name="whitespace", index_option="freq")
    for name in FILTERS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("doc", stored=True)
    return builder.build()


@dataclass(frozen=True)
class Hit:
    artifact_id: str
    score: float
    """As `ranking.scores` computes it (plus any constant boosts asked)."""
    doc: Doc


@dataclass(frozen=True)
class Found:
    total: int
    hits: list[Hit]


def stored_state(doc: Mapping[str, Any]) -> Doc:
    """What the index keeps of an artifact's document."""
    state = {"_id": doc["_id"], **{k: doc.get(k) for k in STORED}}
    retired = doc.get("retired")
    state["retired"] = {"superseded_by": retired.get("superseded_by")} if retired else None
    return state


def document(doc: Mapping[str, Any]) -> tantivy.Document:
    """An artifact as the index holds it."""
    found = tantivy.Document()
    found.add_text("id", doc["_id"])
    for name, text in ranking.field_texts(doc).items():
        analysed = " ".join(terms(text))
        if analysed:
            for _ in range(round(ranking.REPEATS * ranking.FIELD_WEIGHTS[name])):
                found.add_text("text", analysed)
    found.add_text("kind", doc.get("kind") or "")
    found.add_text("community", doc.get("community_id") or "")
    found.add_text("status", doc.get("status") or "")
    for tag in doc.get("tags") or []:
        found.add_text("tag", tag)
    for author in doc.get("author_ids") or []:
        found.add_text("author", author)
    found.add_bytes("doc", orjson.dumps(stored_state(doc)))
    return found


class SearchIndex:
    """One replica's index. `open` before use; one writer (the feed), any number of readers."""

    def __init__(self, path: Path, topic: str) -> None:
        self.path = path
        self.topic = topic
        self.schema = _schema()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._searcher: tantivy.Searcher | None = None
        self.positions: dict[int, int] = {}
        """partition → the offset after the last event the index holds."""

    # -- opening, committing

    def open(self) -> dict[int, int]:
        """Open the index (built anew when missing, of another format or topic); returns the
        positions to read the topic from."""
        kept = self._read_positions()
        if kept is None:
            if self.path.exists():
                log.warning("search index at %s is of another format or topic: rebuilt", self.path)
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
            index = tantivy.Index(self.schema, path=str(self.path), reuse=False)
            self._write_positions({})
        else:
            index = tantivy.Index.open(str(self.path))
        index.config_reader(reload_policy="manual")
        try:
            self._writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        except ValueError as e:  # tantivy's LockBusy: another process writes this index
            raise RuntimeError(
                f"the search index at {self.path} is in use by another process: give each "
                "replica its own directory (SEARCH_INDEX_DIR)"
            ) from e
        self._index = index
        self._searcher = index.searcher()
        self.positions = kept or {}
        return dict(self.positions)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            with contextlib.suppress(Exception):
                self._writer.wait_merging_threads()
        self._writer = self._index = self._searcher = None

    def _read_positions(self) -> dict[int, int] | None:
        try:
            kept = json.loads((self.path / POSITIONS).read_text())
        except (OSError, ValueError):
            return None
        if kept.get("format") != FORMAT or kept.get("topic") != self.topic:
            return None
        return {int(p): int(o) for p, o in kept.get("offsets", {}).items()}

    def _write_positions(self, positions: Mapping[int, int]) -> None:
        content = {
            "format": FORMAT,
            "topic": self.topic,
            "offsets": dict(sorted(positions.items())),
        }
        temporary = self.path / f"{POSITIONS}.tmp"
        with temporary.open("w") as out:
            json.dump(content, out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path / POSITIONS)

    @property
    def writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            raise RuntimeError("the search index is not open")
        return self._writer

    @property
    def searcher(self) -> tantivy.Searcher:
        if self._searcher is None:
            raise RuntimeError("the search index is not open")
        return self._searcher

    def stage(self, docs: Iterable[Doc]) -> None:
        """Replace each artifact's document (or remove it, when it is not searched)."""
        for doc in docs:
            self.writer.delete_documents_by_term("id", doc["_id"])
            if doc.get("status") in SEARCHED:
                self.writer.add_document(document(doc))

    def rollback(self) -> None:
        self.writer.rollback()

    async def commit(self, positions: Mapping[int, int]) -> None:
        """Make the staged documents durable and searchable, then record `positions`."""
        advanced = {**self.positions, **positions}

        def durably() -> None:
            self.writer.commit()
            self._write_positions(advanced)

        # tantivy writes and syncs its files off the loop; a stop waits for it to finish.
        done = asyncio.ensure_future(asyncio.to_thread(durably))
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            await done
            raise
        assert self._index is not None
        self._index.reload()
        self._searcher = self._index.searcher()
        self.positions = advanced

    # -- reading

    @property
    def documents(self) -> int:
        return int(self.searcher.num_docs)

    def stored(self, artifact_id: str) -> Doc | None:
        """The artifact as the index holds it, or None."""
        searcher = self.searcher
        query = tantivy.Query.term_query(self.schema, "id", artifact_id, index_option="basic")
        hits = searcher.search(query, limit=1, count=False).hits
        if not hits:
            return None
        return _state(searcher.doc(hits[0][1]))

    def shows(self, artifact_id: str, version: int, status: str) -> bool:
        """Whether the index holds the artifact at `version` and `status`, or later."""
        if status not in SEARCHED:
            return True
        doc = self.stored(artifact_id)
        if doc is None:
            return False
        held = (int(doc.get("version") or 0), doc.get("status") == "retired")
        return held >= (version, status == "retired")

    def search(
        self, query_terms: Sequence[str], where: Mapping[str, str], offset: int, limit: int
    ) -> Found:
        """Artifacts using any of `query_terms` whose filter fields (`FILTERS`) equal `where`,
        by score, then id; the `limit` from `offset`, and how many there are in all."""
        if not query_terms:
            return Found(0, [])
        clauses = [(tantivy.Occur.Must, self._any_term(query_terms))]
        clauses += [(tantivy.Occur.Must, self._only(f, v)) for f, v in where.items()]
        return self._ranked(tantivy.Query.boolean_query(clauses), offset, limit)

    def related(
        self,
        query_terms: Sequence[str],
        tags: Iterable[str],
        tag_weight: float,
        exclude: str,
        limit: int,
    ) -> list[Hit]:
        """Published artifacts using any of `query_terms` or sharing tags, `tag_weight` added
        to the score per shared tag; best first, `exclude` left out."""
        boosts = [
            tantivy.Query.const_score_query(self._term("tag", tag), tag_weight * SCALE)
            for tag in sorted(set(tags))
        ]
        if not query_terms and not boosts:
            return []
        should = [q for q in [self._any_term(query_terms) if query_terms else None] if q]
        either = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, q) for q in [*should, *boosts]]
        )
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, either), (tantivy.Occur.Must, self._only("status", "published"))]
        )
        hits = self._ranked(query, 0, limit + 1).hits
        return [h for h in hits if h.artifact_id != exclude][:limit]

    def _term(self, field: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, field, value, index_option="basic")

    def _only(self, field: str, value: str) -> tantivy.Query:
        """A filter: matches or not, adds nothing to the score."""
        return tantivy.Query.const_score_query(self._term(field, value), 0.0)

    def _any_term(self, query_terms: Sequence[str]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Should,
                    tantivy.Query.term_query(self.schema, "text", t, index_option="freq"),
                )
                for t in query_terms
            ]
        )

    def _ranked(self, query: tantivy.Query, offset: int, limit: int) -> Found:
        """tantivy orders equal scores by its own document order, which merges change: the
        hits tied with the page's edges are read whole and ordered by id."""
        searcher = self.searcher
        want = offset + limit
        fetch = want + 1
        while True:
            result = searcher.search(query, limit=fetch, count=True)
            hits = result.hits
            if len(hits) < fetch or hits[-1][0] < hits[want - 1][0]:
                break  # every match read, or the ties at the page's end
            fetch *= 2
        page: list[Hit] = []
        position = 0
        for group in _ties(hits):
            first, after = position, position + len(group)
            position = after
            if after <= offset:
                continue
            if first >= want:
                break
            loaded = sorted(
                (self._hit(searcher, score, address) for score, address in group),
                key=lambda h: h.artifact_id,
            )
            page += loaded[max(offset, first) - first : min(want, after) - first]
        # `count` is missing from tantivy's type stubs.
        return Found(int(getattr(result, "count", 0) or 0), page)

    @staticmethod
    def _hit(searcher: tantivy.Searcher, score: float, address: tantivy.DocAddress) -> Hit:
        found = searcher.doc(address)
        return Hit(str(found.get_first("id")), score / SCALE, _state(found))


def _state(found: tantivy.Document) -> Doc:
    stored = found.get_first("doc")
    if not isinstance(stored, bytes):
        raise ValueError(f"an index document without its state: {found.get_first('id')}")
    state: Doc = orjson.loads(stored)
    return state


def _ties(hits: list[tuple[Any, tantivy.DocAddress]]) -> list[list[tuple[float, Any]]]:
    """Consecutive hits of equal score, together."""
    groups: list[list[tuple[float, Any]]] = []
    for score, address in hits:
        if groups and groups[-1][0][0] == score:
            groups[-1].append((score, address))
        else:
            groups.append([(score, address)])
    return groups


class IndexWrites:
    """One batch of the feed, through the same event handlers as the projection: the artifacts
    it touches, read from the index once, changed in memory, staged when the batch is done."""

    def __init__(self, index: SearchIndex) -> None:
        self._index = index
        self._docs: dict[str, Doc] = {}
        self._before: dict[str, bytes] = {}

    async def artifact(self, artifact_id: str) -> Doc | None:
        if artifact_id not in self._docs:
            doc = self._index.stored(artifact_id)
            if doc is None:
                return None
            self._docs[artifact_id] = doc
            self._before[artifact_id] = orjson.dumps(stored_state(doc))
        return self._docs[artifact_id]

    def put(self, doc: Doc) -> None:
        self._docs[doc["_id"]] = doc

    # What the projection keeps besides the artifacts is not searched.
    def version(self, doc: Doc) -> None:
        pass

    def link(self, source: str, targets: Iterable[str], *, removed: Iterable[str] = ()) -> None:
        pass

    def team(self, member_id: str, key: str, at: Any, team: str) -> None:
        pass

    def leader(self, community_id: str, key: str, at: Any, leader_id: str) -> None:
        pass

    async def commit(self) -> None:
        """Stage what changed (a reuse changes nothing searched); the feed commits."""
        self._index.stage(
            doc
            for artifact_id, doc in self._docs.items()
            if orjson.dumps(stored_state(doc)) != self._before.get(artifact_id)
        )
