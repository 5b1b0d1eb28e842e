"""The search index on a local directory: the scores `ranking` states, ties by id, filters,
what is searched, and a restart that resumes where the index stopped."""

import math
from pathlib import Path
from typing import Any

import pytest

from services.knowledge.adapters.search_index import IndexWrites, SearchIndex
from services.knowledge.domain import ranking
from services.knowledge.domain.text import term_counts

TOPIC = "test.cop.knowledge"


def artifact(artifact_id: str, title: str, body: str = "", **fields: Any) -> dict[str, Any]:
    return {
        "_id": artifact_id,
        "kind": "pattern",
        "community_id": "c1",
        "status": "published",
        "version": 1,
        "title": title,
        "summary": "",
        "body_markdown": body,
        "tags": [],
        "author_ids": ["ada"],
        **fields,
    }


@pytest.fixture
async def index(tmp_path: Path) -> Any:
    found = SearchIndex(tmp_path / "index", TOPIC)
    found.open()
    yield found
    found.close()


async def put(
    index: SearchIndex, *docs: dict[str, Any], positions: dict[int, int] | None = None
) -> None:
    index.stage(docs)
    await index.commit(positions or {})


def expected_scores(docs: list[dict[str, Any]], query: list[str]) -> dict[str, float]:
    """`ranking.scores` over the same artifacts, computed the long way."""
    per_doc: dict[str, dict[str, list[int]]] = {}
    for doc in docs:
        found: dict[str, list[int]] = {}
        for i, text in enumerate(ranking.field_texts(doc).values()):
            for term, count in term_counts(text).items():
                found.setdefault(term, [0] * len(ranking.FIELDS))[i] = count
        per_doc[doc["_id"]] = found
    lengths = {a: sum(ranking.weighted(f) for f in t.values()) for a, t in per_doc.items()}
    corpus = ranking.Corpus(len(docs), sum(lengths.values()) / len(docs))
    postings = {
        term: {a: ranking.weighted(t[term]) for a, t in per_doc.items() if term in t}
        for term in query
    }
    return ranking.scores(postings, lengths, corpus)


async def test_the_index_scores_as_ranking_states(index: SearchIndex) -> None:
    docs = [
        artifact("a", "Cache retries", "A cache in front of the service.", tags=["caching"]),
        artifact("b", "Circuit breakers", "Retries and breakers; no cache here at all."),
        artifact("c", "Onboarding", "Nothing about it.", summary="A cache summary."),
        artifact("d", "Unrelated", "Words and more words."),
    ]
    await put(index, *docs)
    query = ["cach", "retri"]
    found = index.search(query, {}, 0, 10)
    expected = expected_scores(docs, query)
    assert found.total == 3
    assert [h.artifact_id for h in found.hits] == sorted(expected, key=lambda a: -expected[a])
    for hit in found.hits:
        assert math.isclose(hit.score, expected[hit.artifact_id], rel_tol=1e-5)


async def test_ties_are_ordered_by_id_and_pages_do_not_overlap(index: SearchIndex) -> None:
    ids = [f"p{i:02d}" for i in range(12)]
    await put(index, *(artifact(i, "Paging pattern", "Same words.") for i in reversed(ids)))
    pages = [index.search(["page"], {}, offset, 5).hits for offset in (0, 5, 10)]
    assert [h.artifact_id for page in pages for h in page] == ids
    assert index.search(["page"], {}, 10, 5).total == 12


async def test_filters_retirement_and_stubs(index: SearchIndex) -> None:
    await put(
        index,
        artifact("a", "Retro", kind="playbook", tags=["agile"], author_ids=["ada", "bob"]),
        artifact("b", "Retro", status="retired", retired={"superseded_by": "a", "at": "x"}),
        artifact("c", "Retro", status="stub"),
        artifact("d", "Retro", community_id="c2"),
    )
    ids = {
        name: sorted(h.artifact_id for h in index.search(["retro"], where, 0, 10).hits)
        for name, where in {
            "published": {"status": "published"},
            "retired": {"status": "retired"},
            "all": {},
            "kind": {"kind": "playbook", "status": "published"},
            "tag": {"tag": "agile"},
            "author": {"author": "bob"},
            "community": {"community": "c2"},
        }.items()
    }
    assert ids == {
        "published": ["a", "d"],
        "retired": ["b"],
        "all": ["a", "b", "d"],
        "kind": ["a"],
        "tag": ["a"],
        "author": ["a"],
        "community": ["d"],
    }
    (retired,) = index.search(["retro"], {"status": "retired"}, 0, 10).hits
    assert retired.doc["retired"] == {"superseded_by": "a"}


async def test_a_revision_replaces_the_artifact_and_a_reuse_writes_nothing(
    index: SearchIndex,
) -> None:
    await put(index, artifact("a", "Old words", "ticket 123456"))
    batch = IndexWrites(index)
    doc = await batch.artifact("a")
    assert doc is not None
    doc.update(body_markdown="ticket 654321", version=2)
    await batch.commit()
    await index.commit({})
    assert [h.artifact_id for h in index.search(["654321"], {}, 0, 10).hits] == ["a"]
    assert index.search(["123456"], {}, 0, 10).total == 0
    assert index.shows("a", 2, "published")
    assert not index.shows("a", 2, "retired")
    staged: list[dict[str, Any]] = []
    index.stage = staged.extend  # type: ignore[method-assign,assignment]
    reuse = IndexWrites(index)
    doc = await reuse.artifact("a")
    assert doc is not None
    doc.setdefault("reuses", {})["k"] = {"team": "x"}
    await reuse.commit()
    assert staged == []


async def test_related_adds_a_weight_per_shared_tag_and_leaves_itself_out(
    index: SearchIndex,
) -> None:
    await put(
        index,
        artifact("a", "Cache", tags=["x", "y"]),
        artifact("b", "Other", tags=["x", "y"]),
        artifact("c", "Cache again", tags=[]),
        artifact("d", "Cache", tags=["x"], status="retired"),
    )
    hits = index.related(["cach"], ["x", "y"], 2.0, "a", 10)
    assert [h.artifact_id for h in hits] == ["b", "c"]
    assert math.isclose(hits[0].score, 4.0, rel_tol=1e-5)


async def test_a_reopened_index_resumes_from_its_positions(tmp_path: Path) -> None:
    path = tmp_path / "index"
    first = SearchIndex(path, TOPIC)
    assert first.open() == {}
    await put(first, artifact("a", "Kept"), positions={0: 7, 2: 3})
    first.close()
    again = SearchIndex(path, TOPIC)
    assert again.open() == {0: 7, 2: 3}
    assert again.documents == 1
    again.close()
    elsewhere = SearchIndex(path, "another.cop.knowledge")
    assert elsewhere.open() == {}  # another topic's index is built anew
    assert elsewhere.documents == 0
    elsewhere.close()


async def test_one_directory_has_one_writer(tmp_path: Path) -> None:
    first = SearchIndex(tmp_path / "index", TOPIC)
    first.open()
    try:
        with pytest.raises(RuntimeError, match="its own directory"):
            SearchIndex(tmp_path / "index", TOPIC).open()
    finally:
        first.close()
