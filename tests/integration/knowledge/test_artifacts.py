"""The knowledge service on the real broker and database: artifacts, versions, retirement, links,
minutes stubs, reuse, safe HTML, and what it refuses."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.knowledge.bootstrap import bootstrap
from services.knowledge.settings import KnowledgeSettings
from shared.events.bounds import MAX_AUTHORS, MAX_RELATED_ARTIFACTS, MAX_TAGS
from shared.events.catalog import (
    CommunityCreated,
    MemberProfileUpdated,
    SessionFormat,
    SessionHeld,
)
from shared.events.envelope import new_event
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import bearer, serving_anew, settings_for
from tests.integration.kafka_io import produce_events
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


@dataclass
class Knowledge:
    client: httpx.AsyncClient
    settings: KnowledgeSettings
    infra: Infrastructure
    community: str

    async def publish(self, author: str, **fields: Any) -> str:
        body = {
            "community_id": self.community,
            "kind": "pattern",
            "title": "Strangler fig",
            "body_markdown": "Replace a legacy system *piece by piece*.",
            **fields,
        }
        response = await self.client.post("/artifacts?wait=true", json=body, headers=bearer(author))
        assert response.status_code == 202, response.text
        assert response.json()["applied"] is True
        return str(response.json()["artifact_id"])

    async def post_as(self, member: str, url: str, body: Any) -> httpx.Response:
        return await self.client.post(url, json=body, headers=bearer(member))

    async def get(self, artifact_id: str, **params: str) -> dict[str, Any]:
        return answer_of(await self.client.get(f"/artifacts/{artifact_id}", params=params))


@pytest.fixture
async def knowledge(infra: Infrastructure, unique: str) -> AsyncIterator[Knowledge]:
    settings = settings_for(KnowledgeSettings, infra, f"kn{unique}")
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Knowledge(client, settings, infra, f"guild-{unique}")


def member() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


async def test_revisions_keep_every_version_and_diff_them(knowledge: Knowledge) -> None:
    author = member()
    artifact = await knowledge.publish(author, title="Trunk-based development", tags=["ci"])
    for i, body in enumerate(
        ["Merge small changes daily.", "Merge small changes daily.\n\nUse flags."]
    ):
        response = await knowledge.post_as(
            author,
            f"/artifacts/{artifact}/revisions?wait=true",
            {"change_note": f"edit {i}", "body_markdown": body},
        )
        assert response.status_code == 202, response.text
        assert response.json()["version"] == i + 2
    versions = (await knowledge.client.get(f"/artifacts/{artifact}/versions")).json()
    assert [(v["version"], v["change_note"], v["editor_id"]) for v in versions] == [
        (1, "published", author),
        (2, "edit 0", author),
        (3, "edit 1", author),
    ]
    diff = await knowledge.client.get(f"/artifacts/{artifact}/diff", params={"from": 1, "to": 3})
    assert diff.headers["content-type"].startswith("text/x-diff")
    assert f"--- {artifact} v1" in diff.text
    assert "-Replace a legacy system *piece by piece*." in diff.text
    assert "+Use flags." in diff.text
    current = await knowledge.get(artifact)
    assert (current["version"], current["title"], current["tags"]) == (
        3,
        "Trunk-based development",
        ["ci"],
    )
    unchanged = await knowledge.post_as(
        author,
        f"/artifacts/{artifact}/revisions",
        {
            "change_note": "nothing",
            "body_markdown": "Merge small changes daily.\n\nUse flags.",
        },
    )
    assert unchanged.status_code == 409
    assert unchanged.json()["code"] == "unchanged"


async def test_only_an_author_the_leader_or_an_admin_may_revise_or_retire(
    knowledge: Knowledge,
) -> None:
    author, leader, stranger = member(), member(), member()
    await produce_events(
        knowledge.infra.kafka_bootstrap_servers,
        knowledge.settings.kafka_topic_prefix,
        [
            new_event(
                CommunityCreated(
                    community_id=knowledge.community,
                    name="Guild",
                    domain="eng",
                    charter={"purpose": "learn"},
                    leader_id=leader,
                ),
                source="test",
            )
        ],
    )
    artifact = await knowledge.publish(author)
    change = {"change_note": "fix", "summary": "Grow the new around the old"}
    refused = await knowledge.post_as(stranger, f"/artifacts/{artifact}/revisions", change)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_author_leader_or_admin"

    async def leader_may() -> bool:
        response = await knowledge.post_as(
            leader, f"/artifacts/{artifact}/revisions?wait=true", change
        )
        return response.status_code == 202

    await eventually(leader_may, what="the leader's revision once the community is known")
    in_someone_elses_name = await knowledge.post_as(
        stranger,
        "/artifacts",
        {
            "community_id": knowledge.community,
            "kind": "guide",
            "title": "x",
            "url": "https://example.com/x",
            "author_ids": [author],
        },
    )
    assert in_someone_elses_name.status_code == 403
    assert in_someone_elses_name.json()["code"] == "not_author"


async def test_retired_artifact_points_to_its_successor_and_leaves_search(
    knowledge: Knowledge,
) -> None:
    author = member()
    old = await knowledge.publish(
        author, title="Gitflow branching", body_markdown="Long-lived branches."
    )
    new = await knowledge.publish(
        author, title="Trunk-based branching", body_markdown="Short-lived branches."
    )
    retire = await knowledge.post_as(
        author,
        f"/artifacts/{old}/retire?wait=true",
        {"reason": "we merge daily now", "superseded_by": new},
    )
    assert retire.status_code == 202, retire.text
    retired = await knowledge.get(old)
    assert retired["status"] == "retired"
    assert retired["superseded_by"] == new
    assert retired["retired"]["reason"] == "we merge daily now"
    page = await knowledge.client.get(f"/artifacts/{old}", headers={"Accept": "text/html"})
    assert f"superseded by {new}" in page.text
    found = (
        await knowledge.client.get(
            "/search", params={"q": "branching", "community": knowledge.community}
        )
    ).json()
    assert [i["artifact_id"] for i in found["items"]] == [new]
    everything = await knowledge.client.get(
        "/search", params={"q": "branching", "community": knowledge.community, "status": "all"}
    )
    assert {i["artifact_id"] for i in everything.json()["items"]} == {old, new}
    again = await knowledge.post_as(author, f"/artifacts/{old}/retire", {"reason": "twice"})
    assert again.json()["code"] == "retired"
    to_itself = await knowledge.post_as(
        author, f"/artifacts/{new}/retire", {"reason": "x", "superseded_by": new}
    )
    assert to_itself.json()["code"] == "successor_is_itself"


async def test_links_show_from_both_sides_and_follow_revisions(knowledge: Knowledge) -> None:
    author = member()
    target = await knowledge.publish(author, title="Feature flags")
    other = await knowledge.publish(author, title="Canary releases")
    source = await knowledge.publish(
        author, title="Trunk-based development", related_artifact_ids=[target]
    )
    assert (await knowledge.get(target))["linked_from"] == [source]
    assert (await knowledge.get(source))["related_artifact_ids"] == [target]
    await knowledge.post_as(
        author,
        f"/artifacts/{source}/revisions?wait=true",
        {"change_note": "relink", "related_artifact_ids": [other]},
    )
    assert (await knowledge.get(target))["linked_from"] == []
    assert (await knowledge.get(other))["linked_from"] == [source]


async def test_a_held_session_gets_a_minutes_stub_its_facilitator_fills(
    knowledge: Knowledge,
) -> None:
    facilitator, colleague = member(), member()
    session = f"s-{uuid.uuid4().hex[:8]}"
    held = SessionHeld(
        session_id=session,
        community_id=knowledge.community,
        held_at=datetime(2026, 11, 2, tzinfo=UTC),
        duration_minutes=60,
        format=SessionFormat.RETROSPECTIVE,
        title="Q4 retrospective",
        facilitator_id=facilitator,
    )
    await produce_events(
        knowledge.infra.kafka_bootstrap_servers,
        knowledge.settings.kafka_topic_prefix,
        [new_event(held, source="test")],
    )

    async def stub() -> dict[str, Any] | None:
        response = await knowledge.client.get(f"/sessions/{session}/minutes")
        return response.json() if response.status_code == 200 else None

    minutes = await eventually(stub, what="the minutes stub")
    assert (minutes["status"], minutes["kind"], minutes["author_ids"]) == (
        "stub",
        "minutes",
        [facilitator],
    )
    assert minutes["title"] == "Minutes: Q4 retrospective"
    assert minutes["session_id"] == session
    not_yours = await knowledge.post_as(
        colleague,
        f"/artifacts/{minutes['artifact_id']}/revisions",
        {"change_note": "fill", "body_markdown": "x"},
    )
    assert not_yours.status_code == 403
    filled = await knowledge.post_as(
        facilitator,
        f"/artifacts/{minutes['artifact_id']}/revisions?wait=true",
        {"change_note": "filled in", "body_markdown": "## Notes\n\nWe keep the WIP limit."},
    )
    assert filled.status_code == 202, filled.text
    published = (await knowledge.client.get(f"/sessions/{session}/minutes")).json()
    assert (published["status"], published["version"]) == ("published", 1)
    assert "WIP limit" in published["body_markdown"]


async def test_reuses_count_distinct_teams_and_those_beyond_the_authors(
    knowledge: Knowledge,
) -> None:
    author = member()
    await produce_events(
        knowledge.infra.kafka_bootstrap_servers,
        knowledge.settings.kafka_topic_prefix,
        [
            new_event(
                MemberProfileUpdated(
                    member_id=author, name="A", email="a@example.com", team="platform"
                ),
                source="test",
            )
        ],
    )
    artifact = await knowledge.publish(author)
    for team in ("payments", "platform", "search", "payments"):
        user = member()
        response = await knowledge.post_as(
            user,
            f"/artifacts/{artifact}/reuses?wait=true",
            {"team": team, "context": "adopted for the checkout rewrite"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["applied"] is True

    async def spread() -> dict[str, Any] | None:
        reuse = (await knowledge.get(artifact))["reuse"]
        return reuse if reuse["other_teams"] == ["payments", "search"] else None

    reuse = await eventually(spread, what="the author's team to be known")
    assert reuse["count"] == 4
    assert reuse["teams"] == ["payments", "platform", "search"]


async def test_markdown_renders_as_inert_html(knowledge: Knowledge) -> None:
    body = (
        "# Title\n\n<script>alert('x')</script>\n\n<img src=x onerror=\"alert(1)\">\n\n"
        '[click](javascript:alert(1)) <a href="javascript:alert(2)">raw</a> '
        '<a href="https://example.com" onclick="steal()">ok</a>\n\n**bold**'
    )
    artifact = await knowledge.publish(member(), body_markdown=body)
    rendered = (await knowledge.get(artifact, format="html"))["body_html"]
    page = (
        await knowledge.client.get(f"/artifacts/{artifact}", headers={"Accept": "text/html"})
    ).text
    for html in (rendered, page):
        lowered = html.lower()
        assert "<script" not in lowered
        assert "onerror" not in lowered
        assert "onclick" not in lowered
        assert "javascript:" not in lowered.replace("[click](javascript:alert(1))", "")
        assert "<strong>bold</strong>" in html
        assert 'href="https://example.com"' in html
    assert (await knowledge.get(artifact))["body_markdown"] == body


async def test_bad_input_is_a_problem_naming_the_field(knowledge: Knowledge) -> None:
    author = member()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "poem", "title": "x", "body_markdown": "x"}, "kind"),
        ({"kind": "pattern", "title": "x" * 201, "body_markdown": "x"}, "title"),
        ({"kind": "pattern", "title": "x", "body_markdown": "x", "tags": ["Not A Tag"]}, "tags"),
        ({"kind": "pattern", "title": "x", "body_markdown": "x" * 200_001}, "body_markdown"),
    ]
    for fields, field in cases:
        response = await knowledge.post_as(
            author, "/artifacts", {"community_id": knowledge.community, **fields}
        )
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert any(e["field"].startswith(field) for e in response.json()["errors"]), response.json()
    neither = await knowledge.post_as(
        author, "/artifacts", {"community_id": knowledge.community, "kind": "guide", "title": "x"}
    )
    assert neither.status_code == 422
    missing = await knowledge.client.get("/artifacts/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_artifact"
    anonymous = await knowledge.client.post(
        "/artifacts",
        json={
            "community_id": knowledge.community,
            "kind": "guide",
            "title": "x",
            "url": "https://example.com",
        },
        headers={"Authorization": ""},
    )
    assert anonymous.status_code == 401


async def test_one_id_is_published_once_even_before_the_projection_shows_it(
    knowledge: Knowledge,
) -> None:
    first, second = member(), member()
    body = {
        "artifact_id": f"kb-{uuid.uuid4().hex[:8]}",
        "community_id": knowledge.community,
        "kind": "guide",
        "title": "Runbook",
        "url": "https://example.com/runbook",
    }
    answers = [
        await knowledge.post_as(who, "/artifacts", {**body, "author_ids": [who]})
        for who in (first, second)
    ]
    assert [a.status_code for a in answers] == [202, 409]
    assert answers[1].json()["code"] == "artifact_exists"
    reserved = await knowledge.post_as(first, "/artifacts", {**body, "artifact_id": "minutes-s1"})
    assert reserved.json()["code"] == "reserved_id"


async def test_a_revision_with_a_bad_url_is_a_problem_naming_it(knowledge: Knowledge) -> None:
    author = member()
    artifact = await knowledge.publish(author)
    response = await knowledge.post_as(
        author, f"/artifacts/{artifact}/revisions", {"change_note": "move", "url": "not a url"}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["url"]


async def test_over_long_lists_of_an_artifact_are_a_422_naming_the_field(
    knowledge: Knowledge,
) -> None:
    author = member()
    artifact = await knowledge.publish(author)
    over = {
        "tags": [f"t{i}" for i in range(MAX_TAGS + 1)],
        "related_artifact_ids": [f"a{i}" for i in range(MAX_RELATED_ARTIFACTS + 1)],
    }
    url = "https://example.com/x"
    body = {"community_id": knowledge.community, "kind": "pattern", "title": "x", "url": url}
    for field, items in {**over, "author_ids": [author] * (MAX_AUTHORS + 1)}.items():
        published = await knowledge.post_as(author, "/artifacts", {**body, field: items})
        assert published.status_code == 422, (field, published.text)
        assert [e["field"] for e in published.json()["errors"]] == [field]
    for field, items in over.items():
        revised = await knowledge.post_as(
            author, f"/artifacts/{artifact}/revisions", {"change_note": "more", field: items}
        )
        assert revised.status_code == 422, (field, revised.text)
        assert [e["field"] for e in revised.json()["errors"]] == [field]
    at_the_bound = {field: items[:-1] for field, items in over.items()}
    await knowledge.publish(author, **at_the_bound)
