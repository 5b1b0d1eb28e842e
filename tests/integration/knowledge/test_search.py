"""Search on the real database: the most relevant artifact first for queries whose winners the
test states, stemming, accents, filters, stable paging, highlighted snippets, related artifacts."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.knowledge.bootstrap import bootstrap
from services.knowledge.settings import KnowledgeSettings
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for

pytestmark = pytest.mark.integration

FILLER = "We write this down so the next team does not have to learn it the hard way. " * 3

CORPUS: dict[str, dict[str, Any]] = {
    "retro": {
        "kind": "playbook",
        "title": "Running a retrospective",
        "tags": ["agile"],
        "summary": "Five steps for a sprint retrospective that changes something.",
        "body_markdown": "Set the stage, gather data, generate insights. " + FILLER,
    },
    "retro-mention": {
        "kind": "guide",
        "title": "Sprint rituals",
        "body_markdown": "Planning, review and a retrospective. " + FILLER,
    },
    "decisions": {
        "kind": "template",
        "title": "Décision log template",
        "tags": ["adr"],
        "body_markdown": "Context, decision, consequences. " + FILLER,
    },
    "observability-title": {
        "kind": "guide",
        "title": "Observability basics",
        "body_markdown": "Traces, metrics and logs. " + FILLER,
    },
    "observability-body": {
        "kind": "case_study",
        "title": "Our incident in March",
        "body_markdown": "Better observability would have helped; "
        "observability was missing. " + FILLER,
    },
    "onboarding-tag": {
        "kind": "checklist",
        "title": "First week checklist",
        "tags": ["onboarding"],
        "body_markdown": "Laptop, accounts, a buddy. " + FILLER,
    },
    "onboarding-body": {
        "kind": "guide",
        "title": "Team handbook",
        "body_markdown": "Onboarding happens in week one. " + FILLER,
    },
}
PAGED = 12


@dataclass
class Corpus:
    client: httpx.AsyncClient
    community: str
    ids: dict[str, str]
    authors: dict[str, str]

    async def search(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get("/search", params={"community": self.community, **params})
        return answer_of(response)

    async def winners(self, q: str, **params: Any) -> list[str]:
        names = {v: k for k, v in self.ids.items()}
        return [
            names.get(i["artifact_id"], "?") for i in (await self.search(q=q, **params))["items"]
        ]


@pytest.fixture(scope="module")
async def corpus(infra: Infrastructure) -> AsyncIterator[Corpus]:
    unique = uuid.uuid4().hex[:10]
    settings = settings_for(KnowledgeSettings, infra, f"ks{unique}")
    community = f"guild-{unique}"
    async with serving(bootstrap(settings), "knowledge") as client:
        ids, authors = {}, {}
        items = list(CORPUS.items())
        items += [
            (
                f"paged-{i}",
                {
                    "kind": "pattern",
                    "title": f"Pattern number {i}",
                    "body_markdown": "A pattern for paging. " + FILLER,
                },
            )
            for i in range(PAGED)
        ]
        for n, (name, fields) in enumerate(items):
            author = f"author{n % 3}-{unique}"
            response = await client.post(
                "/artifacts?wait=true",
                json={"community_id": community, **fields},
                headers=bearer(author),
            )
            assert response.status_code == 202, response.text
            ids[name], authors[name] = response.json()["artifact_id"], author
        other = await client.post(
            "/artifacts?wait=true",
            json={"community_id": f"elsewhere-{unique}", **CORPUS["retro"]},
            headers=bearer("someone"),
        )
        assert other.status_code == 202
        yield Corpus(client, community, ids, authors)
    await drop_database(infra, settings.mongodb_database)


@pytest.mark.parametrize(
    ("query", "winner"),
    [
        ("retrospectives", "retro"),  # stemming: the plural finds the singular
        ("RETROSPECTIVE steps", "retro"),
        ("decision log", "decisions"),  # accents: "Décision" in the title
        ("décisions", "decisions"),
        ("observability", "observability-title"),  # a title weighs more than two body mentions
        ("onboarding", "onboarding-tag"),  # a tag weighs more than a body mention
        ("log decision", "decisions"),  # word order does not matter
    ],
)
async def test_the_most_relevant_artifact_ranks_first(
    corpus: Corpus, query: str, winner: str
) -> None:
    assert (await corpus.winners(query))[0] == winner


async def test_both_matches_are_found_and_the_weaker_ranks_second(corpus: Corpus) -> None:
    assert (await corpus.winners("retrospective"))[:2] == ["retro", "retro-mention"]
    assert await corpus.winners("onboarding") == ["onboarding-tag", "onboarding-body"]


async def test_filters_narrow_the_results(corpus: Corpus) -> None:
    assert await corpus.winners("onboarding", kind="checklist") == ["onboarding-tag"]
    assert await corpus.winners("retrospective", tag="agile") == ["retro"]
    author = corpus.authors["retro"]
    assert all(
        corpus.authors[name] == author
        for name in await corpus.winners("pattern paging", author=author, size=50)
    )
    everywhere = await corpus.client.get("/search", params={"q": "Running a retrospective"})
    communities = {i["community_id"] for i in everywhere.json()["items"]}
    assert corpus.community in communities
    assert len(communities) >= 2
    assert await corpus.winners("nothing-matches-this-zzqx") == []


async def test_paging_is_stable_and_complete(corpus: Corpus) -> None:
    everything = await corpus.search(q="pattern paging", size=50)
    assert everything["total"] == PAGED
    pages = [await corpus.search(q="pattern paging", size=5, page=p) for p in (1, 2, 3)]
    paged = [i["artifact_id"] for page in pages for i in page["items"]]
    assert paged == [i["artifact_id"] for i in everything["items"]]
    assert len(set(paged)) == PAGED
    assert [p["pages"] for p in pages] == [3, 3, 3]
    again = await corpus.search(q="pattern paging", size=5, page=2)
    assert again["items"] == pages[1]["items"]


async def test_results_carry_a_highlighted_snippet(corpus: Corpus) -> None:
    top = (await corpus.search(q="retrospectives"))["items"][0]
    assert "<mark>retrospective</mark>" in top["snippet"]
    assert top["title_highlighted"] == "Running a <mark>retrospective</mark>"
    assert top["score"] > 0


async def test_related_artifacts_share_tags_or_words(corpus: Corpus) -> None:
    response = await corpus.client.get(f"/artifacts/{corpus.ids['retro']}/related")
    related = [r["artifact_id"] for r in response.json()]
    assert corpus.ids["retro"] not in related
    assert corpus.ids["retro-mention"] in related[:3]


async def test_a_query_of_only_common_words_finds_nothing_rather_than_everything(
    corpus: Corpus,
) -> None:
    found = await corpus.search(q="the and of")
    assert (found["total"], found["terms"]) == (0, [])
