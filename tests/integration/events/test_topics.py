"""The topic backlog on the real broker, MongoDB protocol and Redis: proposing, voting within a
budget (also when votes arrive at once), what scheduling, declining, merging and reopening do to
votes, the session a topic becomes, and the order of the list."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from shared.events.catalog import TopicProposed
from shared.events.envelope import new_event
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import act_as, bearer, serving_anew, settings_for
from tests.integration.events.test_replay import replayed, snapshot
from tests.integration.kafka_io import produce_events
from tests.integration.polling import eventually
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

BUDGET = 3
LEADER, CORE = "lea", "cory"


@dataclass
class Backlog:
    client: httpx.AsyncClient
    settings: EventsSettings
    infra: Infrastructure

    async def send(
        self, member: str, method: str, url: str, body: Any = None, *, wait: bool = True
    ) -> httpx.Response:
        params = {"wait": "true"} if wait else {}
        return await self.client.request(
            method, url, json=body, params=params, headers=bearer(member)
        )

    async def ok(self, member: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
        answer = await act_as(self.client, member, method, url, body)
        if "applied" in answer:
            assert answer["applied"] is True
        return answer

    async def community(self, *members: str) -> str:
        """A community led by LEADER, with CORE as a core member and `members` as members."""
        community_id = f"c-{uuid.uuid4().hex[:8]}"
        await self.ok(
            "ops",
            "POST",
            "/communities",
            {
                "community_id": community_id,
                "name": f"Guild {community_id}",
                "domain": "testing",
                "charter": {"purpose": "Learn from each other"},
                "leader_id": LEADER,
            },
        )
        await self.ok(
            LEADER,
            "POST",
            f"/communities/{community_id}/members",
            {"member_id": CORE, "role": "core"},
        )
        for member in members:
            await self.ok(
                member, "POST", f"/communities/{community_id}/members", {"member_id": member}
            )
        return community_id

    async def propose(self, community_id: str, member: str, title: str, **extra: Any) -> str:
        answer = await self.ok(
            member, "POST", f"/communities/{community_id}/topics", {"title": title, **extra}
        )
        return str(answer["topic_id"])

    async def vote(self, topic_id: str, member: str) -> dict[str, Any]:
        return await self.ok(member, "PUT", f"/topics/{topic_id}/vote")

    async def votes(self, community_id: str, member: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/communities/{community_id}/votes/me", headers=bearer(member)
        )
        return answer_of(response)

    async def listed(
        self, community_id: str, member: str | None = None, **params: str
    ) -> list[dict[str, Any]]:
        headers = bearer(member) if member else {"Authorization": ""}
        response = await self.client.get(
            f"/communities/{community_id}/topics", params=params, headers=headers
        )
        items: list[dict[str, Any]] = answer_of(response)["items"]
        return items

    async def topic(self, topic_id: str, member: str | None = None) -> dict[str, Any]:
        headers = bearer(member) if member else {"Authorization": ""}
        return answer_of(await self.client.get(f"/topics/{topic_id}", headers=headers))


@pytest.fixture
async def backlog(infra: Infrastructure, unique: str) -> AsyncIterator[Backlog]:
    settings = settings_for(EventsSettings, infra, f"tpc{unique}", topic_vote_budget=BUDGET)
    async with serving_anew(infra, settings, bootstrap) as client:
        yield Backlog(client, settings, infra)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [t["topic_id"] for t in items]


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


# --- proposing ----------------------------------------------------------------------------------


async def test_a_member_proposes_a_topic_that_is_listed_open_without_votes(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann", "bob")
    topic_id = await backlog.propose(
        community,
        "ann",
        "Property-based testing",
        description="Hypothesis on our parsers",
        speaker_ids=["bob"],
        tags=["testing"],
    )

    (listed,) = await backlog.listed(community, "ann")
    assert listed == {
        "topic_id": topic_id,
        "community_id": community,
        "title": "Property-based testing",
        "description": "Hypothesis on our parsers",
        "status": "open",
        "votes": 0,
        "voted_by_me": False,
        "speaker_ids": ["bob"],
        "tags": ["testing"],
        "proposed_by": "ann",
        "proposed_at": listed["proposed_at"],
        "session_id": None,
        "decline_reason": None,
        "merged_into": None,
    }
    assert (await backlog.topic(topic_id))["title"] == "Property-based testing"


async def test_bad_titles_and_non_members_change_nothing(backlog: Backlog) -> None:
    community = await backlog.community("ann")
    url = f"/communities/{community}/topics"

    for title in ("x" * 201, ""):
        problem = problem_of(await backlog.send("ann", "POST", url, {"title": title}), 422)
        assert fields(problem) == {"title"}
    problem = problem_of(await backlog.send("ann", "POST", url, {"description": "no title"}), 422)
    assert fields(problem) == {"title"}
    problem = problem_of(await backlog.send("zed", "POST", url, {"title": "Mine"}), 403)
    assert problem["code"] == "not_a_member"

    assert await backlog.propose(community, "ann", "x" * 200)
    assert [t["title"] for t in await backlog.listed(community)] == ["x" * 200]


# --- voting within the budget -------------------------------------------------------------------


async def test_a_second_vote_changes_nothing_and_answers_the_same(backlog: Backlog) -> None:
    community = await backlog.community("ann")
    topic_id = await backlog.propose(community, "ann", "Mutation testing")

    first = await backlog.vote(topic_id, "ann")
    second = await backlog.vote(topic_id, "ann")

    assert first == second
    assert first == {
        "topic_id": topic_id,
        "community_id": community,
        "voted_by_me": True,
        "budget": BUDGET,
        "active": 1,
        "left": BUDGET - 1,
        "applied": True,
    }
    (listed,) = await backlog.listed(community, "ann")
    assert (listed["votes"], listed["voted_by_me"]) == (1, True)
    assert (await backlog.listed(community, LEADER))[0]["voted_by_me"] is False


async def test_a_vote_over_the_budget_is_refused_until_one_is_taken_back(backlog: Backlog) -> None:
    community = await backlog.community("ann")
    topics = [await backlog.propose(community, "ann", f"Topic {n}") for n in range(BUDGET + 1)]
    for topic_id in topics[:BUDGET]:
        await backlog.vote(topic_id, "ann")
    assert await backlog.votes(community, "ann") == {
        "community_id": community,
        "member_id": "ann",
        "budget": BUDGET,
        "active": BUDGET,
        "left": 0,
    }

    refused = await backlog.send("ann", "PUT", f"/topics/{topics[-1]}/vote")
    problem = problem_of(refused, 409)
    assert problem["code"] == "vote_budget_exhausted"
    assert (problem["budget"], problem["active"]) == (BUDGET, BUDGET)

    taken_back = await backlog.ok("ann", "DELETE", f"/topics/{topics[0]}/vote")
    assert (taken_back["voted_by_me"], taken_back["active"], taken_back["left"]) == (
        False,
        BUDGET - 1,
        1,
    )
    again = await backlog.ok("ann", "DELETE", f"/topics/{topics[0]}/vote")
    assert again == taken_back
    await backlog.vote(topics[-1], "ann")
    votes = {t["topic_id"]: t["votes"] for t in await backlog.listed(community)}
    assert votes == {topics[0]: 0, topics[1]: 1, topics[2]: 1, topics[3]: 1}


async def test_votes_sent_at_once_never_pass_the_budget(backlog: Backlog) -> None:
    community = await backlog.community("ann")
    topics = [await backlog.propose(community, "ann", f"Topic {n}") for n in range(8)]

    answers = await asyncio.gather(
        *(backlog.send("ann", "PUT", f"/topics/{t}/vote", wait=False) for t in topics)
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * BUDGET + [409] * (len(topics) - BUDGET), [a.text for a in answers]
    voted = {t for t, a in zip(topics, answers, strict=True) if a.status_code == 200}

    async def counted() -> bool:
        listed = await backlog.listed(community, "ann")
        return {t["topic_id"] for t in listed if t["voted_by_me"]} == voted

    await eventually(counted, what="the accepted votes in the backlog")
    assert (await backlog.votes(community, "ann"))["active"] == BUDGET
    assert sum(t["votes"] for t in await backlog.listed(community)) == BUDGET


async def test_votes_from_non_members_and_on_topics_not_open_are_refused(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann")
    topic_id = await backlog.propose(community, "ann", "Contract testing")

    problem = problem_of(await backlog.send("zed", "PUT", f"/topics/{topic_id}/vote"), 403)
    assert problem["code"] == "not_a_member"
    problem = problem_of(await backlog.send("ann", "PUT", "/topics/t-nothing/vote"), 404)
    assert problem["code"] == "topic_not_found"

    await backlog.ok(LEADER, "POST", f"/topics/{topic_id}/decline", {"reason": "done last year"})
    problem = problem_of(await backlog.send("ann", "PUT", f"/topics/{topic_id}/vote"), 409)
    assert (problem["code"], problem["status"], problem["topic_status"]) == (
        "topic_not_open",
        409,
        "declined",
    )
    assert (await backlog.topic(topic_id))["votes"] == 0


# --- what the stewards do -----------------------------------------------------------------------


async def test_scheduling_a_topic_creates_its_session_and_releases_the_votes(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann", "bob")
    topic_id = await backlog.propose(
        community, "ann", "Chaos engineering", speaker_ids=["bob"], tags=["resilience"]
    )
    for member in ("ann", "bob"):
        await backlog.vote(topic_id, member)
    session = {"format": "workshop", "starts_at": in_days(7), "facilitator_id": LEADER}

    problem = problem_of(
        await backlog.send("ann", "POST", f"/topics/{topic_id}/schedule", session), 403
    )
    assert problem["code"] == "not_leader_or_core"
    scheduled = await backlog.ok(CORE, "POST", f"/topics/{topic_id}/schedule", session)

    session_id = scheduled["session_id"]
    assert scheduled["topic_id"] == topic_id
    detail = await backlog.ok(CORE, "GET", f"/sessions/{session_id}")
    assert (detail["title"], detail["format"], detail["speaker_ids"], detail["tags"]) == (
        "Chaos engineering",
        "workshop",
        ["bob"],
        ["resilience"],
    )
    topic = await backlog.topic(topic_id, "ann")
    assert (topic["status"], topic["session_id"], topic["votes"]) == ("scheduled", session_id, 2)
    assert topic["voted_by_me"] is True
    for member in ("ann", "bob"):
        assert (await backlog.votes(community, member))["active"] == 0
    problem = problem_of(
        await backlog.send(LEADER, "POST", f"/topics/{topic_id}/schedule", session), 409
    )
    assert problem["code"] == "topic_not_open"

    await backlog.ok(LEADER, "POST", f"/sessions/{session_id}/hold", {"attendee_ids": ["ann"]})
    assert (await backlog.topic(topic_id))["status"] == "done"


async def test_a_topic_whose_session_was_cancelled_may_be_reopened(backlog: Backlog) -> None:
    community = await backlog.community("ann")
    topic_id = await backlog.propose(community, "ann", "Load testing")
    await backlog.vote(topic_id, "ann")
    session = {"format": "brown_bag", "starts_at": in_days(3), "facilitator_id": LEADER}
    scheduled = await backlog.ok(LEADER, "POST", f"/topics/{topic_id}/schedule", session)

    problem = problem_of(await backlog.send(LEADER, "POST", f"/topics/{topic_id}/reopen"), 409)
    assert problem["code"] == "topic_not_reopenable"
    cancel = {"reason": "speaker ill"}
    await backlog.ok(LEADER, "POST", f"/sessions/{scheduled['session_id']}/cancel", cancel)
    await backlog.ok(LEADER, "POST", f"/topics/{topic_id}/reopen")

    topic = await backlog.topic(topic_id)
    assert (topic["status"], topic["session_id"], topic["votes"]) == ("open", None, 1)
    assert (await backlog.votes(community, "ann"))["active"] == 1


async def test_reopening_a_declined_topic_counts_its_votes_again_even_over_the_budget(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann")
    declined = await backlog.propose(community, "ann", "Pairing")
    await backlog.vote(declined, "ann")
    await backlog.ok(CORE, "POST", f"/topics/{declined}/decline", {"reason": "not now"})
    assert (await backlog.votes(community, "ann"))["active"] == 0
    assert (await backlog.topic(declined))["decline_reason"] == "not now"
    for n in range(BUDGET):
        await backlog.vote(await backlog.propose(community, "ann", f"Topic {n}"), "ann")

    problem = problem_of(await backlog.send("ann", "POST", f"/topics/{declined}/reopen"), 403)
    assert problem["code"] == "not_leader_or_core"
    await backlog.ok(LEADER, "POST", f"/topics/{declined}/reopen")

    assert await backlog.votes(community, "ann") == {
        "community_id": community,
        "member_id": "ann",
        "budget": BUDGET,
        "active": BUDGET + 1,
        "left": 0,
    }
    late = await backlog.propose(community, "ann", "One too many")
    problem = problem_of(await backlog.send("ann", "PUT", f"/topics/{late}/vote"), 409)
    assert (problem["code"], problem["active"]) == ("vote_budget_exhausted", BUDGET + 1)


async def test_merging_moves_votes_without_duplicates_and_releases_the_merged_topic(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann", "bob", "cat")
    merged = await backlog.propose(community, "ann", "Flaky tests")
    into = await backlog.propose(community, "bob", "Test stability")
    for member in ("ann", "bob", "cat"):
        await backlog.vote(merged, member)
    await backlog.vote(into, "bob")

    await backlog.ok(LEADER, "POST", f"/topics/{merged}/merge", {"into_topic_id": into})

    target = await backlog.topic(into, "ann")
    assert (target["status"], target["votes"], target["voted_by_me"]) == ("open", 3, True)
    source = await backlog.topic(merged)
    assert (source["status"], source["merged_into"]) == ("merged", into)
    assert {m: (await backlog.votes(community, m))["active"] for m in ("ann", "bob", "cat")} == {
        "ann": 1,
        "bob": 1,
        "cat": 1,
    }
    # Taking back the moved vote works on the target, once.
    await backlog.ok("cat", "DELETE", f"/topics/{into}/vote")
    assert (await backlog.topic(into))["votes"] == 2

    other = await backlog.propose(community, "ann", "Elsewhere")
    for from_id, into_id in ((merged, other), (other, merged)):
        body = {"into_topic_id": into_id}
        response = await backlog.send(LEADER, "POST", f"/topics/{from_id}/merge", body)
        assert problem_of(response, 409)["code"] == "topic_not_open"
    problem = problem_of(
        await backlog.send(LEADER, "POST", f"/topics/{other}/merge", {"into_topic_id": "t-none"}),
        422,
    )
    assert problem["field"] == "into_topic_id"
    problem = problem_of(
        await backlog.send(LEADER, "POST", f"/topics/{other}/merge", {"into_topic_id": other}), 422
    )
    assert problem["field"] == "into_topic_id"


# --- the order of the list ----------------------------------------------------------------------


async def test_wanted_new_and_ready_order_the_backlog_with_ties_by_proposal_then_id(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann", "bob", "cat")
    # Four topics proposed at the same instant (as another tool could), so that ties fall to
    # the id; then two proposed later, one after the other.
    at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    same_time = ["t-d", "t-b", "t-c", "t-a"]
    proposals = [
        new_event(
            TopicProposed(
                topic_id=t,
                community_id=community,
                title=f"Topic {t}",
                proposed_by="ann",
                speaker_ids=["bob"] if t in ("t-c", "t-d") else [],
            ),
            source="test/topics",
            time=at,
        )
        for t in same_time
    ]
    await produce_events(
        backlog.infra.kafka_bootstrap_servers, backlog.settings.kafka_topic_prefix, proposals
    )

    async def all_listed() -> bool:
        return len(await backlog.listed(community)) == len(same_time)

    await eventually(all_listed, what="the topics proposed at the same instant")
    later = await backlog.propose(community, "cat", "Later", speaker_ids=["cat"])
    latest = await backlog.propose(community, "cat", "Latest")
    votes = {"t-a": ["ann"], "t-b": ["ann", "bob"], "t-c": ["bob"], later: ["ann", "bob", "cat"]}
    for topic_id, members in votes.items():
        for member in members:
            await backlog.vote(topic_id, member)
    await backlog.ok(LEADER, "POST", f"/topics/{later}/decline", {"reason": "off topic"})

    assert ids(await backlog.listed(community)) == ["t-b", "t-a", "t-c", "t-d", later, latest]
    assert ids(await backlog.listed(community, sort="wanted", status="open")) == [
        "t-b",
        "t-a",
        "t-c",
        "t-d",
        latest,
    ]
    assert ids(await backlog.listed(community, sort="new")) == [
        latest,
        later,
        "t-a",
        "t-b",
        "t-c",
        "t-d",
    ]
    assert ids(await backlog.listed(community, sort="ready")) == ["t-c", "t-d"]
    assert ids(await backlog.listed(community, status="declined")) == [later]
    page = await backlog.client.get(
        f"/communities/{community}/topics", params={"size": 2, "page": 2}
    )
    assert (page.json()["total"], ids(page.json()["items"])) == (6, ["t-c", "t-d"])


# --- rebuilt from the topics --------------------------------------------------------------------


async def test_the_backlog_rebuilt_by_replaying_the_topics_equals_the_live_one(
    backlog: Backlog,
) -> None:
    community = await backlog.community("ann", "bob")
    first, second, third = [await backlog.propose(community, "ann", f"T{n}") for n in range(3)]
    for topic_id, member in ((first, "ann"), (first, "bob"), (second, "ann"), (third, "bob")):
        await backlog.vote(topic_id, member)
    await backlog.ok("bob", "DELETE", f"/topics/{third}/vote")
    await backlog.ok(LEADER, "POST", f"/topics/{second}/merge", {"into_topic_id": first})
    await backlog.ok(LEADER, "POST", f"/topics/{third}/decline", {"reason": "later"})
    await backlog.ok(LEADER, "POST", f"/topics/{third}/reopen")
    session = {"format": "brown_bag", "starts_at": in_days(-1), "facilitator_id": LEADER}
    scheduled = await backlog.ok(LEADER, "POST", f"/topics/{first}/schedule", session)
    await backlog.ok(LEADER, "POST", f"/sessions/{scheduled['session_id']}/hold", {})
    live = await snapshot(backlog.infra, backlog.settings.mongodb_database)

    applied = len(live["applied_events"])
    rebuilt = await replayed(backlog.infra, backlog.settings, applied, "the replayed backlog")
    assert {d["_id"] for d in live["topics"]} == {first, second, third}
    for name in ("topics", "community_topics", "ballots", "sessions", "community_sessions"):
        assert rebuilt[name] == live[name], f"{name} differs after replay"
