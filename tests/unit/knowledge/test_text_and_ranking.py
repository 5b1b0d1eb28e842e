"""How text becomes index terms, and how BM25 ranks, on plain data."""

import pytest

from services.knowledge.domain import ranking
from services.knowledge.domain.artifacts import Actor, ArtifactState, revise
from services.knowledge.domain.text import fold, terms
from shared.refusals import Forbidden, Refused


def test_terms_are_folded_stemmed_and_free_of_stop_words() -> None:
    assert terms("The Retrospectives of our Teams") == ["retrospect", "team"]
    assert terms("rétrospective") == terms("retrospective")
    assert terms("team's") == ["team"]
    assert fold("Ǆ ﬁ É") == "dz fi e"


def test_a_title_word_outweighs_the_same_word_in_the_body() -> None:
    corpus = ranking.Corpus(documents=10, average_length=20.0)
    title = ranking.weighted([1, 0, 0, 0])
    body = ranking.weighted([0, 0, 0, 2])
    found = ranking.scores({"cache": {"t": title, "b": body}}, {"t": 20.0, "b": 20.0}, corpus)
    assert found["t"] > found["b"]


def test_a_rare_term_counts_more_than_a_common_one() -> None:
    corpus = ranking.Corpus(documents=100, average_length=10.0)
    common = {f"d{i}": 1.0 for i in range(60)}
    rare = {"d0": 1.0}
    both = ranking.scores({"common": common, "rare": rare}, {}, corpus)
    assert ranking.idf(1, corpus) > ranking.idf(60, corpus)
    assert both["d0"] == max(both.values())


def test_a_longer_document_scores_lower_for_the_same_frequency() -> None:
    corpus = ranking.Corpus(documents=10, average_length=50.0)
    found = ranking.scores(
        {"t": {"short": 1.0, "long": 1.0}}, {"short": 10.0, "long": 200.0}, corpus
    )
    assert found["short"] > found["long"]


STATE = ArtifactState("a1", "c1", "pattern", "published", 2, ("ada",), {"title": "Old", "tags": []})


def test_a_revision_carries_only_what_changed_and_the_next_version() -> None:
    event = revise(STATE, "a1", {"title": "New", "tags": []}, "rename", Actor("ada"), None)
    assert event.model_dump(exclude_none=True) == {
        "artifact_id": "a1",
        "community_id": "c1",
        "version": 3,
        "editor_id": "ada",
        "change_note": "rename",
        "title": "New",
    }


def test_the_leader_may_revise_and_a_stranger_may_not() -> None:
    revise(STATE, "a1", {"title": "New"}, "x", Actor("lead"), "lead")
    with pytest.raises(Forbidden):
        revise(STATE, "a1", {"title": "New"}, "x", Actor("bob"), "lead")


def test_a_retired_artifact_is_not_revised() -> None:
    retired = ArtifactState("a1", "c1", "pattern", "retired", 2, ("ada",))
    with pytest.raises(Refused, match="retired"):
        revise(retired, "a1", {"title": "New"}, "x", Actor("ada"), None)
