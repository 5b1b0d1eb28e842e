"""Recognition's ledger, styles, badges, leaderboards and kudos judgements, on the real broker,
database and Redis, fed with events as other services publish them."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from services.recognition.adapters.leaderboard import Leaderboards
from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactKind,
    ArtifactPublished,
    ArtifactReused,
    ArtifactRevised,
    FeedbackSubmitted,
    KudosGiven,
    MemberProfileUpdated,
    SessionFormat,
    SessionHeld,
)
from shared.events.envelope import CloudEvent, new_event
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.kafka_io import body, produce_events, read_all
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 6, 12, 0, tzinfo=UTC)  # a Monday, in a quarter long gone


@dataclass
class Recognition:
    client: httpx.AsyncClient
    settings: RecognitionSettings
    infra: Infrastructure
    community: str

    async def send(self, *events: CloudEvent) -> None:
        await produce_events(
            self.infra.kafka_bootstrap_servers, self.settings.kafka_topic_prefix, list(events)
        )

    async def profile(self, member: str, **params: str) -> dict[str, Any]:
        return answer_of(await self.client.get(f"/members/{member}/profile", params=params))

    async def profile_when(self, member: str, **expected: Any) -> dict[str, Any]:
        async def shows() -> dict[str, Any] | None:
            found = await self.profile(member)
            return found if all(found[k] == v for k, v in expected.items()) else None

        return await eventually(shows, what=f"{member}'s profile to show {expected}")


@pytest.fixture
async def recognition(infra: Infrastructure, unique: str) -> AsyncIterator[Recognition]:
    settings = settings_for(
        RecognitionSettings,
        infra,
        f"led{unique}",
        kudos_allowance=4,
        health_evaluation_interval_s=0.5,
        health_settle_s=0.5,
    )
    async with serving(bootstrap(settings), "recognition") as client:
        yield Recognition(client, settings, infra, f"guild-{unique}")
    await drop_database(infra, settings.mongodb_database)


def event(data: BaseModel, at: datetime) -> CloudEvent:
    return new_event(data, source="test/ledger", time=at)


def held(
    community: str, at: datetime, facilitator: str, speakers: list[str], attendees: list[str]
) -> CloudEvent:
    return event(
        SessionHeld(
            session_id=f"s-{uuid.uuid4().hex[:8]}",
            community_id=community,
            held_at=at,
            duration_minutes=45,
            format=SessionFormat.BROWN_BAG,
            title="Flaky tests, again",
            facilitator_id=facilitator,
            speaker_ids=speakers,
            attendee_ids=attendees,
        ),
        at,
    )


def kudos(
    community: str, at: datetime, giver: str, *to: str, tag: str = "helpfulness"
) -> CloudEvent:
    return event(
        KudosGiven(
            kudos_id=f"k-{uuid.uuid4().hex[:8]}",
            from_id=giver,
            to_ids=list(to),
            community_id=community,
            message="Thanks!",
            value_tag=tag,
        ),
        at,
    )


def published(community: str, at: datetime, artifact: str, *authors: str) -> CloudEvent:
    return event(
        ArtifactPublished(
            artifact_id=artifact,
            community_id=community,
            kind=ArtifactKind.PATTERN,
            title="Strangler fig",
            body_markdown="# Why",
            author_ids=list(authors),
        ),
        at,
    )


def reused(community: str, at: datetime, artifact: str, member: str, team: str) -> CloudEvent:
    return event(
        ArtifactReused(artifact_id=artifact, community_id=community, member_id=member, team=team),
        at,
    )


def profile_update(member: str, team: str, at: datetime) -> CloudEvent:
    return event(
        MemberProfileUpdated(
            member_id=member, name=member, email=f"{member}@example.com", team=team
        ),
        at,
    )


async def test_every_event_kind_becomes_its_ledger_entries(recognition: Recognition) -> None:
    c, r = recognition.community, recognition
    names = [
        "spk1",
        "spk2",
        "fac",
        "att",
        "au1",
        "au2",
        "giver",
        "rec1",
        "rec2",
        "fb",
        "owner",
        "user",
    ]
    ids = {name: f"{name}-{uuid.uuid4().hex[:6]}" for name in names}
    m = ids.__getitem__
    item = ActionItemOpened(
        action_item_id=f"ai-{c}", community_id=c, title="Quarantine flaky", owner_id=m("owner")
    )
    await r.send(
        # a speaker who also attends, and the facilitator listed as attendee: no take for them
        held(c, T0, m("fac"), [m("spk1"), m("spk2"), m("spk1")], [m("att"), m("spk1"), m("fac")]),
        published(c, T0, f"a-{c}", m("au1"), m("au2")),
        event(
            ArtifactRevised(
                artifact_id=f"a-{c}",
                community_id=c,
                version=2,
                editor_id=m("au1"),
                change_note="examples",
            ),
            T0,
        ),
        kudos(c, T0, m("giver"), m("rec1"), m("rec2")),
        event(FeedbackSubmitted(session_id="s1", community_id=c, member_id=m("fb"), rating=4), T0),
        event(item, T0),
        event(
            ActionItemClosed(**item.model_dump(exclude={"due"}), outcome="done"),
            T0 + timedelta(days=1),
        ),
        reused(c, T0, f"a-{c}", m("user"), "payments"),
    )
    expected = {
        "spk1": (3, 0),
        "spk2": (3, 0),
        "fac": (3, 0),
        "att": (0, 1),
        "au1": (4, 0),
        "au2": (3, 0),
        "giver": (2, 0),
        "rec1": (0, 0),
        "fb": (1, 0),
        "owner": (2, 0),
        "user": (0, 1),
    }
    for name, (give, take) in expected.items():
        await r.profile_when(m(name), give=give, take=take)
    receiver = await r.profile_when(m("rec1"), kudos_received=1)
    assert receiver["communities"] == [
        {
            "community_id": c,
            "give": 0,
            "take": 0,
            "style": "newcomer",
            "kudos_received": 1,
            "kudos_given": 0,
        }
    ]
    assert (await r.profile(m("giver")))["kudos_given"] == 2


async def test_style_is_decided_at_the_threshold_edges(recognition: Recognition) -> None:
    """Feedback gives 1, attending a session takes 1: members built to sit on each edge."""
    c, r = recognition.community, recognition
    host = f"host-{c}"
    shapes = {"newcomer": (1, 1), "giver": (3, 2), "matcher": (2, 2), "taker": (1, 3)}
    members = {style: f"{style}-{c}" for style in shapes}
    events = []
    for i in range(3):
        attendees = [members[s] for s, (_, take) in shapes.items() if take > i]
        events.append(held(c, T0 + timedelta(days=i), host, [], attendees))
    for style, (give, _) in shapes.items():
        events += [
            event(
                FeedbackSubmitted(
                    session_id="s", community_id=c, member_id=members[style], rating=5
                ),
                T0 + timedelta(days=i),
            )
            for i in range(give)
        ]
    await r.send(*events)
    for style, (give, take) in shapes.items():
        found = await r.profile_when(members[style], give=give, take=take)
        assert found["style"] == style, (style, found)


async def test_leaderboard_orders_by_score_and_is_rebuilt_from_an_empty_redis(
    recognition: Recognition,
) -> None:
    c, r = recognition.community, recognition
    top, second, third = f"top-{c}", f"second-{c}", f"third-{c}"
    await r.send(
        held(c, T0, top, [second], []),  # top 3, second 3
        published(c, T0, f"art-{c}", top),  # top 6
        kudos(c, T0, f"fan-{c}", third, third),  # third: 2 x 1 counted; fan gives 1
        kudos(c, T0, f"fan2-{c}", third),  # third: 2 x 2 = 4; fan2 gives 1
    )
    await r.profile_when(third, kudos_received=2)
    await r.profile_when(top, give=6)
    expected = [
        {"rank": 1, "member_id": top, "score": 6},
        {"rank": 2, "member_id": third, "score": 4},
        {"rank": 3, "member_id": second, "score": 3},
    ]
    for period in ("all", "2026-04", "2026-Q2", "2026-W15"):
        board = await r.client.get(
            f"/communities/{c}/leaderboard", params={"period": period, "limit": 3}
        )
        assert board.json()["entries"] == expected, (period, board.json())
    redis = Redis.from_url(recognition.infra.redis_url, decode_responses=True)
    try:
        assert await Leaderboards(redis, recognition.settings.mongodb_database).forget() > 0
    finally:
        await redis.aclose()
    rebuilt = await r.client.get(
        f"/communities/{c}/leaderboard", params={"period": "all", "limit": 3}
    )
    assert rebuilt.json()["entries"] == expected
    ties = await r.client.get(f"/communities/{c}/leaderboard", params={"period": "all", "limit": 5})
    assert [e["member_id"] for e in ties.json()["entries"][3:]] == sorted([f"fan-{c}", f"fan2-{c}"])


async def test_each_badge_is_awarded_once_even_when_everything_is_delivered_twice(
    recognition: Recognition,
) -> None:
    c, r = recognition.community, recognition
    names = ("speaker", "fac", "author", "star", "regular")
    speaker, facilitator, author, star, regular = (f"{n}-{c}" for n in names)
    teams = ["payments", "search", "mobile"]
    events = [profile_update(author, "platform", T0 - timedelta(days=30))]
    events += [
        held(c, T0 + timedelta(days=7 * i), facilitator, [speaker], [regular]) for i in range(5)
    ]
    events.append(published(c, T0, f"pattern-{c}", author))
    events += [
        reused(c, T0 + timedelta(days=1), f"pattern-{c}", f"user{i}-{c}", t)
        for i, t in enumerate(teams)
    ]
    events += [kudos(c, T0, f"fan{i}-{c}", star) for i in range(10)]
    await r.send(*events, *events)
    expected = {
        (speaker, "first_talk"),
        (facilitator, "rotating_facilitator"),
        (author, "first_artifact"),
        (author, "pattern_spreader"),
        (star, "kudos_10"),
        (regular, "consistent_attendee"),
    }

    async def awarded() -> set[tuple[str, str]] | None:
        found = set()
        for member, _ in expected:
            found |= {(member, b["badge"]) for b in (await r.profile(member))["badges"]}
        return found if expected <= found else None

    assert await eventually(awarded, what="every badge", timeout_s=30) >= expected
    topic = f"{r.settings.kafka_topic_prefix}cop.recognition"
    records = await read_all(r.infra.kafka_bootstrap_servers, topic, expect=10_000, timeout_s=3)
    badges = [body(x)["data"] for x in records if body(x)["type"] == "cop.badge.awarded.v1"]
    published_pairs = [(b["member_id"], b["badge"]) for b in badges]
    assert sorted(published_pairs) == sorted(expected)  # once each, nothing else
    speaker_badges = (await r.profile(speaker))["badges"]
    assert [b["badge"] for b in speaker_badges] == ["first_talk"]


async def test_judge_applies_the_rules_in_order_and_the_monthly_allowance(
    recognition: Recognition,
) -> None:
    c, r = recognition.community, recognition
    giver = f"giver-{c}"
    a, b, d, e, f = (f"{n}-{c}" for n in "abdef")
    cases = [
        kudos(c, T0, giver, giver, a, tag="bogus"),  # self first, then the tag
        kudos(c, T0, giver, a, a, b),  # a counted, a duplicate, b counted (2 of 4 used)
        kudos(c, T0 + timedelta(days=1), giver, d, e, f),  # d, e counted; f beyond the 4
        kudos(c, T0 + timedelta(days=2), giver, a),  # exhausted for April
        kudos(c, datetime(2026, 5, 1, tzinfo=UTC), giver, a),  # a new month, a new allowance
    ]
    await r.send(*cases)
    expected = [
        [(giver, "self_kudos"), (a, "unknown_value_tag")],
        [(a, "counted"), (a, "duplicate_recipient"), (b, "counted")],
        [(d, "counted"), (e, "counted"), (f, "allowance_exhausted")],
        [(a, "allowance_exhausted")],
        [(a, "counted")],
    ]
    for case, verdicts in zip(cases, expected, strict=True):

        async def judged(kudos_id: str = case.data["kudos_id"]) -> dict[str, Any] | None:
            found = (await r.client.get(f"/kudos/{kudos_id}")).json()
            return found if found.get("status") == "judged" else None

        found = await eventually(judged, what=f"the judgement of {case.data['to_ids']}")
        assert [(v["member_id"], v["verdict"]) for v in found["recipients"]] == verdicts
    feed = (await r.client.get(f"/communities/{c}/kudos", params={"limit": 2})).json()
    assert [item["kudos_id"] for item in feed["items"]] == [
        cases[4].data["kudos_id"],
        cases[2].data["kudos_id"],
    ]
    rest = await r.client.get(f"/communities/{c}/kudos", params={"before": feed["next_before"]})
    assert [item["kudos_id"] for item in rest.json()["items"]] == [cases[1].data["kudos_id"]]
