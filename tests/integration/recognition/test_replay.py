"""Replaying every topic into an emptied projection and Redis, twice, gives the same decisions,
ledger, badges, leaderboards and health numbers as the live run."""

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from copctl.replay import replay
from services.recognition import rebuild
from services.recognition.adapters.projection import PROJECTION
from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactKind,
    ArtifactPublished,
    ArtifactReused,
    FeedbackSubmitted,
    KudosGiven,
    MemberJoined,
    MemberProfileUpdated,
    SessionFormat,
    SessionHeld,
)
from shared.events.envelope import CloudEvent, new_event
from shared.lag import GroupLag
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.integration.kafka_io import produce_events
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MONTHS = ("2026-01", "2026-02", "2026-03")


def history(community: str, seed: int = 7) -> tuple[list[CloudEvent], list[str], list[str]]:
    """Three months of a small community: joins, teams, weekly sessions (one facilitator, so a
    single_facilitator alert), feedback, action items, artifacts, reuses and kudos beyond the
    allowance. Returns the events, the members and the kudos ids."""
    rng = random.Random(seed)
    members = [f"m{i:02d}-{community}" for i in range(14)]
    teams = ["payments", "search", "mobile", "platform"]

    def ev(data: BaseModel, at: datetime) -> CloudEvent:
        return new_event(data, source="test/replay", time=at)

    events = []
    for i, m in enumerate(members):
        events.append(
            ev(MemberJoined(community_id=community, member_id=m), START - timedelta(days=1))
        )
        events.append(
            ev(
                MemberProfileUpdated(
                    member_id=m, name=m, email=f"u{i}@example.com", team=teams[i % 4]
                ),
                START - timedelta(days=1),
            )
        )
    kudos_ids: list[str] = []
    for week in range(12):
        at = START + timedelta(days=7 * week)
        attendees = rng.sample(members[2:], rng.randint(3, 9))
        events.append(
            ev(
                SessionHeld(
                    session_id=f"s{week}-{community}",
                    community_id=community,
                    held_at=at,
                    duration_minutes=60,
                    format=SessionFormat.JOURNAL_CLUB,
                    title=f"W{week}",
                    facilitator_id=members[0],
                    speaker_ids=[members[1 + week % 3]],
                    attendee_ids=attendees,
                ),
                at,
            )
        )
        for a in attendees[:3]:
            events.append(
                ev(
                    FeedbackSubmitted(
                        session_id=f"s{week}-{community}",
                        community_id=community,
                        member_id=a,
                        rating=rng.randint(2, 5),
                        applied=rng.random() < 0.5,
                    ),
                    at + timedelta(hours=2),
                )
            )
        item = f"ai{week}-{community}"
        events.append(
            ev(
                ActionItemOpened(
                    action_item_id=item,
                    community_id=community,
                    title="Try it",
                    owner_id=attendees[0],
                ),
                at + timedelta(hours=3),
            )
        )
        if week % 2 == 0:
            events.append(
                ev(
                    ActionItemClosed(
                        action_item_id=item,
                        community_id=community,
                        title="Try it",
                        owner_id=attendees[0],
                        outcome="done",
                    ),
                    at + timedelta(days=3),
                )
            )
        if week % 3 == 0:
            artifact = f"a{week}-{community}"
            events.append(
                ev(
                    ArtifactPublished(
                        artifact_id=artifact,
                        community_id=community,
                        kind=ArtifactKind.PLAYBOOK,
                        title="How we do it",
                        body_markdown="steps",
                        author_ids=[members[1 + week % 3]],
                    ),
                    at + timedelta(hours=4),
                )
            )
            for j, team in enumerate(teams[: 1 + week % 4]):
                events.append(
                    ev(
                        ArtifactReused(
                            artifact_id=artifact,
                            community_id=community,
                            member_id=members[4 + j],
                            team=team,
                        ),
                        at + timedelta(days=1),
                    )
                )
        for _ in range(4):
            giver = members[rng.randint(0, 3)]  # a few generous givers exhaust their allowance
            to = rng.sample([m for m in members if m != giver], rng.randint(1, 3))
            kudos_id = f"k{len(kudos_ids)}-{community}"
            kudos_ids.append(kudos_id)
            events.append(
                ev(
                    KudosGiven(
                        kudos_id=kudos_id,
                        from_id=giver,
                        to_ids=to,
                        community_id=community,
                        message="Thanks",
                        value_tag="mentoring",
                    ),
                    at + timedelta(hours=5),
                )
            )
    return events, members, kudos_ids


Snapshot = dict[str, Any]


async def snapshot(
    client: Any,
    mongo: AsyncMongoClient[dict[str, Any]],
    db: str,
    community: str,
    members: list[str],
    kudos_ids: list[str],
) -> Snapshot:
    """Everything recognition shows: its collections (but for the marks of what is still to be
    evaluated) and its API's views."""
    collections = {}
    for name in PROJECTION:
        docs = await mongo[db][name].find({}, {"dirty": 0}).sort("_id", 1).to_list(None)
        collections[name] = docs
    views: dict[str, Any] = {}
    for kudos_id in kudos_ids:
        found = (await client.get(f"/kudos/{kudos_id}")).json()
        views[kudos_id] = (found["recipients"], found["counted_for"], found["period"])
    for m in members:
        views[m] = (await client.get(f"/members/{m}/profile")).json()
        views[f"{m}-feb"] = (
            await client.get(f"/members/{m}/profile", params={"period": "2026-02"})
        ).json()
    for period in ("all", *MONTHS, "2026-Q1", "2026-W06"):
        board = await client.get(
            f"/communities/{community}/leaderboard", params={"period": period, "limit": 20}
        )
        views[f"board-{period}"] = board.json()
    for period in (*MONTHS, "2026-Q1"):
        views[f"health-{period}"] = (
            await client.get(f"/communities/{community}/health", params={"period": period})
        ).json()
    trend = await client.get(
        f"/communities/{community}/health/trend", params={"from": "2025-12", "to": "2026-04"}
    )
    views["trend"] = trend.json()
    views["alerts"] = [
        (a["alert"], a["period"])
        for a in (await client.get(f"/communities/{community}/alerts")).json()["alerts"]
    ]
    views["feed"] = (
        await client.get(f"/communities/{community}/kudos", params={"limit": 100})
    ).json()
    return {"collections": collections, "views": views}


async def caught_up(lags: list[GroupLag]) -> bool:
    return all([await lag.records_behind() == 0 for lag in lags])


async def test_replaying_twice_gives_identical_decisions_ledger_badges_boards_and_health(
    infra: Infrastructure, unique: str
) -> None:
    settings = settings_for(
        RecognitionSettings,
        infra,
        f"rpl{unique}",
        kudos_allowance=5,
        health_evaluation_interval_s=0.3,
        health_settle_s=0.3,
    )
    community = f"guild-{unique}"
    events, members, kudos_ids = history(community)
    group, prefix = settings.kafka_consumer_group or "", settings.kafka_topic_prefix
    topics = [settings.kafka_topic_prefix + t for t in rebuild.TOPICS]
    judged = [prefix + t for t in rebuild.JUDGE_TOPICS]
    lags = [
        GroupLag(infra.kafka_bootstrap_servers, group, topics),
        GroupLag(infra.kafka_bootstrap_servers, f"{group}-judge", judged),
    ]
    for lag in lags:
        await lag.start()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    redis = Redis.from_url(infra.redis_url, decode_responses=True)

    async def run(until: Callable[[Any], Awaitable[object]], *, first: bool = False) -> Snapshot:
        async with serving(bootstrap(settings), "recognition") as client:
            if first:  # the topics exist once the service has started
                await produce_events(infra.kafka_bootstrap_servers, prefix, events)
            await eventually(lambda: caught_up(lags), what="recognition to catch up", timeout_s=60)
            await eventually(lambda: until(client), what="the alert evaluation", timeout_s=30)
            await eventually(
                lambda: caught_up(lags), what="its own decisions applied", timeout_s=30
            )
            db = settings.mongodb_database
            return await snapshot(client, mongo, db, community, members, kudos_ids)

    async def alerted(client: Any) -> bool:
        alerts = (await client.get(f"/communities/{community}/alerts")).json()["alerts"]
        return ("single_facilitator", "2026-03") in {(a["alert"], a["period"]) for a in alerts}

    try:
        live = await run(alerted, first=True)
        assert any(
            v == "allowance_exhausted"
            for k in kudos_ids
            for _, v in [(r["member_id"], r["verdict"]) for r in live["views"][k][0]]
        )
        assert live["views"]["health-2026-02"]["metrics"]["sessions_held"] == 4
        for round_ in (1, 2):
            await replay("recognition", settings)
            async for key in redis.scan_iter(match=f"{settings.mongodb_database}:*"):
                await redis.delete(key)  # Redis emptied, not only what a rebuild drops
            rebuilt = await run(alerted)
            assert rebuilt["views"] == live["views"], f"replay {round_}: views differ"
            assert rebuilt["collections"] == live["collections"], f"replay {round_}: data differs"
    finally:
        for lag in lags:
            await lag.stop()
        await redis.aclose()
        await mongo.close()
        await drop_database(infra, settings.mongodb_database)
