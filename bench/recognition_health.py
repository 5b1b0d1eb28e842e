"""Recognition's community health and leaderboards for one large community with a long history.

    python -m bench.recognition_health [--members 500] [--months 24] [--requests 200] [--seed 7]

`make bench` runs it too, with the sizes from `BENCH_HEALTH_MEMBERS`, `BENCH_HEALTH_MONTHS`,
`BENCH_HEALTH_REQUESTS`, `BENCH_HEALTH_BUDGET_S` and `BENCH_HEALTH_SEED` (`--skip-health` leaves
it out); run alone it writes `bench-results/recognition_health.json` and `.md`.

1. A seeded generator writes the history of one community up to today 00:00 UTC: members joining
   over time (a few leave), their teams (`profile_updated`, 10 teams, some move), 2-3 sessions a
   week with 10-60 attendees, feedback, action items, artifacts published, revised and reused,
   and kudos (three eager givers run into the monthly allowance). Attendance shrinks over four
   months of the first year and one month has a single facilitator, so that alerts are due.
   Every event carries the time of its fact. From the same facts the generator computes on its
   own what the contract says each health metric, alert and leaderboard must show.
2. The whole history is produced to the bench's own topics before recognition starts; then the
   app runs in this process with its own consumer group and database. The projection is caught
   up when every consumer group of the bench's namespace has committed the end of every partition
   of the four topics it reads (the service's own judgements, badges and alerts included), seen
   twice a second apart; its rate is records / seconds from the app's start to the first such
   snapshot, and also over the 10-90 % stretch of the committed offsets.
3. The service's answers are compared with the generator's numbers (every metric of every month
   and quarter through `/health` and `/health/trend`, the "previous" block, the leaderboards),
   then each endpoint is timed through the app's HTTP API: `requests` calls, or fewer when
   `budget_s` runs out. A leaderboard's first call after its Redis keys are deleted (a rebuild
   from the ledger) is timed apart, three times per period.
"""

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.harness import BenchInfra, delete_topics, mongo_server, provide_infra, serving
from copctl.topics import partitions_of
from services.recognition.settings import RecognitionSettings
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactKind,
    ArtifactPublished,
    ArtifactReused,
    ArtifactRevised,
    Charter,
    CommunityCreated,
    FeedbackSubmitted,
    KudosGiven,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    Role,
    SessionFormat,
    SessionHeld,
    SessionScheduled,
)
from shared.events.codec import encode
from shared.events.envelope import CloudEvent, new_event
from shared.events.topics import Topic
from shared.kafka import ensure_topics

OUT = Path(__file__).resolve().parent.parent / "bench-results"
SOURCE = "bench/recognition-health"
TOPICS = (Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE, Topic.RECOGNITION)
TEAMS = 10
CORE = 12  # founders who facilitate most sessions; they never leave
EAGER_GIVERS = 3  # give 3 recipients twice a week: ~26 a month, more than the allowance of 20
ALLOWANCE = 20  # counted recipients per giver and calendar month (the contract's default)
METRICS = (
    "members",
    "new_members",
    "active_members",
    "participation_rate",
    "inactive_members",
    "sessions_held",
    "avg_attendance",
    "attendance_consistency",
    "artifacts_published",
    "reuses",
    "cross_team_reuses",
    "cross_team_sessions",
    "absence_factor",
    "top20_share",
    "facilitators_last6",
    "sessions_last6",
    "avg_rating",
    "applied_share",
    "action_closure_rate",
    "contributors_with_give",
)
LEADERBOARD_PERIODS = ("all", "month", "quarter", "week")
REBUILDS_PER_PERIOD = 3
EVALUATION_INTERVAL_S = 2.0
EVALUATION_TIMEOUT_S = 120.0

PeriodOf = Callable[[datetime], tuple[str, datetime, datetime]]


@dataclass(frozen=True)
class HealthSizes:
    members: int = 500
    months: int = 24
    requests: int = 200
    budget_s: float = 15.0  # per endpoint
    seed: int = 7

    @classmethod
    def from_env(cls) -> "HealthSizes":
        env = os.environ
        return cls(
            members=int(env.get("BENCH_HEALTH_MEMBERS", cls.members)),
            months=int(env.get("BENCH_HEALTH_MONTHS", cls.months)),
            requests=int(env.get("BENCH_HEALTH_REQUESTS", cls.requests)),
            budget_s=float(env.get("BENCH_HEALTH_BUDGET_S", cls.budget_s)),
            seed=int(env.get("BENCH_HEALTH_SEED", cls.seed)),
        )


# --- calendar periods (UTC), written here again so the expectations owe nothing to the service


def month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def month_of(at: datetime) -> tuple[str, datetime, datetime]:
    start = month_start(at.year, at.month)
    return f"{at.year:04d}-{at.month:02d}", start, month_start(at.year, at.month + 1)


def quarter_of(at: datetime) -> tuple[str, datetime, datetime]:
    q = (at.month - 1) // 3
    start = month_start(at.year, 3 * q + 1)
    return f"{at.year:04d}-Q{q + 1}", start, month_start(at.year, 3 * q + 4)


def week_of(at: datetime) -> tuple[str, datetime, datetime]:
    year, week, weekday = at.isocalendar()
    start = datetime(at.year, at.month, at.day, tzinfo=UTC) - timedelta(days=weekday - 1)
    return f"{year:04d}-W{week:02d}", start, start + timedelta(days=7)


def period_range(key: str) -> tuple[str, datetime, datetime]:
    """`2026-11` or `2026-Q4`: the key, start and end."""
    year, rest = int(key[:4]), key[5:]
    if rest.startswith("Q"):
        return quarter_of(month_start(year, 3 * int(rest[1:]) - 2))
    return month_of(month_start(year, int(rest)))


def periods_between(
    first: datetime, last: datetime, of: PeriodOf
) -> list[tuple[str, datetime, datetime]]:
    """Every month (or quarter) from the one holding `first` to the one holding `last`."""
    periods = [of(first)]
    while periods[-1][2] <= last:
        periods.append(of(periods[-1][2]))
    return periods


# --- the history ---


@dataclass(eq=False)  # members are told apart by identity
class Member:
    id: str
    weight: float
    joined: datetime
    quiet_from: datetime  # no activity from here on (100 days before leaving)
    left: datetime | None = None
    teams: list[tuple[datetime, str]] = field(default_factory=list)

    def active_at(self, at: datetime) -> bool:
        return self.joined < at < self.quiet_from

    def team_at(self, at: datetime) -> str:
        team = ""
        for since, name in self.teams:
            if since < at:
                team = name
        return team


@dataclass(frozen=True)
class Held:
    at: datetime
    facilitator: str
    speakers: tuple[str, ...]
    attendees: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    at: datetime
    member: str
    give: int
    take: int


class History:
    """One community's facts in time order, and what the contract says they add up to."""

    def __init__(
        self, sizes: HealthSizes, anchor: datetime, run: str, value_tags: Sequence[str]
    ) -> None:
        self.rng = random.Random(sizes.seed)
        self.run = run
        self.community = f"hc-{run}"
        self.end = anchor
        self.start = anchor - timedelta(days=round(sizes.months * 365.25 / 12))
        self.scale = sizes.members / 500
        self._tags = sorted(value_tags)
        self._facts: list[tuple[datetime, int, BaseModel]] = []
        self.members: list[Member] = []
        self.held: list[Held] = []
        self.feedback: list[tuple[datetime, int, bool]] = []
        self.opened: dict[str, datetime] = {}
        self.closed: dict[str, datetime] = {}
        self.published: list[datetime] = []
        self.reuses: list[tuple[datetime, str, tuple[str, ...]]] = []  # at, team, authors
        self.ledger: list[Entry] = []
        self.received: list[tuple[datetime, str]] = []  # counted kudos recipients
        self.kudos: list[tuple[datetime, str, list[str]]] = []
        # Two stretches the contract's alerts are about, when the history is long enough:
        # attendance falling four months in a row (stagnation), one facilitator for a month.
        months = [key for key, _, _ in periods_between(self.start, anchor, month_of)]
        self._shrink = dict(zip(months[9:13], (1.0, 0.7, 0.45, 0.25), strict=False))
        self._one_facilitator = months[16] if len(months) > 17 else None
        self._members(sizes.members)
        self._weeks()
        self._judge_kudos()
        self.ledger.sort(key=lambda e: e.at)
        self.held.sort(key=lambda h: h.at)

    # facts

    def _add(self, at: datetime, data: BaseModel) -> None:
        self._facts.append((at, len(self._facts), data))

    def events(self) -> list[CloudEvent]:
        return [
            new_event(data, source=SOURCE, time=at, event_id=f"{self.community}-{seq:06d}")
            for at, seq, data in sorted(self._facts, key=lambda f: (f[0], f[1]))
        ]

    def _members(self, n: int) -> None:
        rng, span = self.rng, (self.end - self.start).total_seconds()
        founders = max(CORE, round(0.3 * n))
        for i in range(n):
            if i < founders:
                joined = self.start + timedelta(hours=1 + rng.uniform(0, 72))
            else:
                joined = self.start + timedelta(seconds=rng.uniform(0.05 * span, 0.99 * span))
            self.members.append(
                Member(f"m{i:03d}-{self.run}", min(50.0, rng.paretovariate(1.2)), joined, self.end)
            )
        leader = self.members[0]
        self._add(
            self.start,
            CommunityCreated(
                community_id=self.community,
                name="Bench platform engineering",
                domain="platform engineering",
                charter=Charter(purpose="Share what works in running platforms."),
                leader_id=leader.id,
            ),
        )
        can_leave = [m for m in self.members[CORE:] if m.joined < self.end - timedelta(days=250)]
        for m in rng.sample(can_leave, min(len(can_leave), max(1, round(0.05 * n)))):
            earliest = m.joined + timedelta(days=200)
            m.left = earliest + (self.end - timedelta(days=1) - earliest) * rng.random()
            m.quiet_from = m.left - timedelta(days=100)
        for i, m in enumerate(self.members):
            m.teams.append((m.joined - timedelta(minutes=5), f"team-{rng.randrange(TEAMS)}"))
            if rng.random() < 0.1 and m.quiet_from - m.joined > timedelta(days=60):
                moved = m.joined + (m.quiet_from - m.joined) * rng.uniform(0.2, 0.9)
                others = [f"team-{t}" for t in range(TEAMS) if f"team-{t}" != m.teams[0][1]]
                m.teams.append((moved, rng.choice(others)))
            for since, team in m.teams:
                self._add(
                    since,
                    MemberProfileUpdated(
                        member_id=m.id,
                        name=f"Bench member {i}",
                        email=f"{m.id}@example.com",
                        team=team,
                    ),
                )
            role = Role.CORE if i < CORE else Role.MEMBER
            self._add(
                m.joined, MemberJoined(community_id=self.community, member_id=m.id, role=role)
            )
            if m.left is not None:
                self._add(m.left, MemberLeft(community_id=self.community, member_id=m.id))

    def _pick(self, pool: Sequence[Member], k: int) -> list[Member]:
        """`k` members without replacement, the keener ones more likely (Efraimidis-Spirakis)."""
        rng = self.rng
        keyed = sorted(pool, key=lambda m: rng.random() ** (1.0 / m.weight), reverse=True)
        return keyed[: max(0, min(k, len(pool)))]

    def _weeks(self) -> None:
        week = week_of(self.start + timedelta(days=7))[1]
        n = 0
        while week < self.end:
            ahead = week + timedelta(days=10)
            pool = [m for m in self.members if m.joined < week and m.quiet_from > ahead]
            if len(pool) >= CORE:
                for _ in range(self.rng.choice((2, 2, 3))):
                    n += 1
                    self._session(n, week, pool)
                for _ in range(int(self.rng.random() < 0.9) + int(self.rng.random() < 0.3)):
                    self._artifact(week, pool)
                for _ in range(max(1, round(self.rng.randint(15, 45) * self.scale))):
                    self._kudos_in(week, pool)
                for eager in self.members[1 : 1 + EAGER_GIVERS]:
                    for _ in range(2):
                        self._kudos_in(week, pool, giver=eager, recipients=3)
            week += timedelta(days=7)

    def _session(self, n: int, week: datetime, pool: list[Member]) -> None:
        rng, session_id = self.rng, f"s{n:04d}-{self.run}"
        day = rng.randrange(5)
        hour = 22 if rng.random() < 0.08 else rng.randrange(9, 18)
        held_at = week + timedelta(days=day, hours=hour, minutes=rng.choice((0, 30)))
        duration = rng.choice((30, 45, 60, 90, 120))
        at = held_at + timedelta(minutes=duration + 2)  # the held event follows the session
        month = month_of(held_at)[0]
        core = [m for m in self.members[:CORE] if m in pool]
        facilitator = rng.choice(core) if rng.random() < 0.8 else self._pick(pool, 1)[0]
        if month == self._one_facilitator:
            facilitator = self.members[0]
        others = [m for m in pool if m is not facilitator]
        speakers = self._pick(others, rng.choice((0, 1, 1, 2, 3)))
        leaders = [facilitator, *speakers]
        size = max(3, round(rng.randint(10, 60) * self._shrink.get(month, 1.0)))
        with_leaders = rng.random() < 0.5  # some systems list the facilitator and speakers too
        rest = [m for m in others if m not in speakers]
        attendees = self._pick(rest, size - len(leaders) if with_leaders else size)
        listed = [*leaders, *attendees] if with_leaders else attendees
        fmt = rng.choice(list(SessionFormat))
        title = f"Session {n}: {fmt.value.replace('_', ' ')}"
        if held_at - timedelta(days=7) > self.start:
            self._add(
                held_at - timedelta(days=7),
                SessionScheduled(
                    session_id=session_id,
                    community_id=self.community,
                    title=title,
                    format=fmt,
                    starts_at=held_at,
                    duration_minutes=duration,
                    facilitator_id=facilitator.id,
                    speaker_ids=[s.id for s in speakers],
                ),
            )
        if at >= self.end:
            return
        self._add(
            at,
            SessionHeld(
                session_id=session_id,
                community_id=self.community,
                held_at=held_at,
                duration_minutes=duration,
                format=fmt,
                title=title,
                facilitator_id=facilitator.id,
                speaker_ids=[s.id for s in speakers],
                attendee_ids=[a.id for a in listed],
            ),
        )
        self.held.append(
            Held(at, facilitator.id, tuple(s.id for s in speakers), tuple(a.id for a in listed))
        )
        for leader in leaders:
            self.ledger.append(Entry(at, leader.id, 3, 0))
        for a in attendees:
            self.ledger.append(Entry(at, a.id, 0, 1))
        for a in listed:
            if a is facilitator or rng.random() >= 0.3:
                continue
            when = at + timedelta(minutes=rng.uniform(30, 72 * 60))
            if when >= self.end:
                continue
            rating, applied = rng.choices((1, 2, 3, 4, 5), (1, 2, 5, 8, 6))[0], rng.random() < 0.25
            self._add(
                when,
                FeedbackSubmitted(
                    session_id=session_id,
                    community_id=self.community,
                    member_id=a.id,
                    rating=rating,
                    plus="clear examples",
                    applied=applied,
                ),
            )
            self.feedback.append((when, rating, applied))
            self.ledger.append(Entry(when, a.id, 1, 0))
        for i in range(rng.choice((0, 0, 1, 1, 2))):
            self._action_item(f"a{n:04d}.{i}-{self.run}", session_id, at, rng.choice(listed))

    def _action_item(self, item_id: str, session_id: str, at: datetime, owner: Member) -> None:
        opened, title = at + timedelta(minutes=5), f"Follow up on {session_id}"
        self._add(
            opened,
            ActionItemOpened(
                action_item_id=item_id,
                community_id=self.community,
                session_id=session_id,
                title=title,
                owner_id=owner.id,
            ),
        )
        self.opened[item_id] = opened
        closed = opened + timedelta(days=self.rng.uniform(3, 60))
        if self.rng.random() < 0.7 and closed < self.end and owner.active_at(closed):
            self._add(
                closed,
                ActionItemClosed(
                    action_item_id=item_id,
                    community_id=self.community,
                    session_id=session_id,
                    title=title,
                    owner_id=owner.id,
                    outcome="done and written up",
                ),
            )
            self.closed[item_id] = closed
            self.ledger.append(Entry(closed, owner.id, 2, 0))

    def _artifact(self, week: datetime, pool: list[Member]) -> None:
        rng, artifact_id = self.rng, f"art{len(self.published):04d}-{self.run}"
        at = week + timedelta(seconds=rng.uniform(0, 7 * 86400))
        if at >= self.end:
            return
        authors = self._pick(pool, rng.choice((1, 1, 2, 3)))
        self._add(
            at,
            ArtifactPublished(
                artifact_id=artifact_id,
                community_id=self.community,
                kind=rng.choice(list(ArtifactKind)),
                title=f"Artifact {len(self.published)}",
                body_markdown="# What we learned\n\nSteps, pitfalls and links.",
                author_ids=[a.id for a in authors],
                tags=["bench"],
            ),
        )
        self.published.append(at)
        for a in authors:
            self.ledger.append(Entry(at, a.id, 3, 0))
        later = sorted(
            at + timedelta(days=rng.uniform(1, 120)) for _ in range(rng.choice((0, 0, 1, 2, 3)))
        )
        for version, when in enumerate(later, start=2):
            candidates = [m for m in self.members if m.active_at(when)]
            if when >= self.end or not candidates:
                break
            if rng.random() < 0.6 and any(a.active_at(when) for a in authors):
                editor = rng.choice([a for a in authors if a.active_at(when)])
            else:
                editor = rng.choice(candidates)
            self._add(
                when,
                ArtifactRevised(
                    artifact_id=artifact_id,
                    community_id=self.community,
                    version=version,
                    editor_id=editor.id,
                    change_note="clarified the steps",
                ),
            )
            self.ledger.append(Entry(when, editor.id, 1, 0))
        for _ in range(rng.choice((0, 0, 1, 2, 3, 5, 8))):
            when = at + timedelta(days=rng.uniform(1, 300))
            candidates = [m for m in self.members if m.active_at(when) and m not in authors]
            if when >= self.end or not candidates:
                continue
            member = rng.choice(candidates)
            team = member.team_at(when)
            self._add(
                when,
                ArtifactReused(
                    artifact_id=artifact_id,
                    community_id=self.community,
                    member_id=member.id,
                    team=team,
                    context="adopted in our on-call runbook",
                ),
            )
            self.reuses.append((when, team, tuple(a.id for a in authors)))
            self.ledger.append(Entry(when, member.id, 0, 1))

    def _kudos_in(
        self, week: datetime, pool: list[Member], giver: Member | None = None, recipients: int = 0
    ) -> None:
        rng = self.rng
        at = week + timedelta(seconds=rng.uniform(0, 7 * 86400))
        giver = giver or self._pick(pool, 1)[0]
        if at >= self.end or not giver.active_at(at):
            return
        to = self._pick(
            [m for m in pool if m is not giver], recipients or rng.choice((1, 1, 1, 2, 3))
        )
        kudos_id = f"k{len(self.kudos):05d}-{self.run}"
        self._add(
            at,
            KudosGiven(
                kudos_id=kudos_id,
                from_id=giver.id,
                to_ids=[m.id for m in to],
                community_id=self.community,
                message="Thanks for the help this week",
                value_tag=rng.choice(self._tags),
            ),
        )
        self.kudos.append((at, giver.id, [m.id for m in to]))

    def _judge_kudos(self) -> None:
        """Counted recipients, in the order the kudos reach the judge (their time order)."""
        used: Counter[tuple[str, str]] = Counter()
        for at, giver, to in sorted(self.kudos, key=lambda k: k[0]):
            month = month_of(at)[0]
            for member in to:
                if used[giver, month] >= ALLOWANCE:
                    continue
                used[giver, month] += 1
                self.ledger.append(Entry(at, giver, 1, 0))
                self.received.append((at, member))

    # what the contract says the facts add up to

    def metrics(self, start: datetime, end: datetime) -> dict[str, float]:
        def within(at: datetime) -> bool:
            return start <= at < end

        members = {
            m.id for m in self.members if m.joined < end and (m.left is None or m.left >= end)
        }
        entries = [e for e in self.ledger if within(e.at)]
        active = {e.member for e in entries}
        recent = {e.member for e in self.ledger if end - timedelta(days=90) <= e.at < end}
        held = [h for h in self.held if within(h.at)]
        attended: Counter[str] = Counter(a for h in held for a in h.attendees)
        consistent = sum(1 for m in members if held and 2 * attended[m] >= len(held))
        teams = {m.id: m for m in self.members}
        reuses = [r for r in self.reuses if within(r[0])]
        cross_reuses = sum(
            1 for at, team, authors in reuses if team not in {teams[a].team_at(at) for a in authors}
        )
        cross_sessions = 0
        for h in held:
            people = {h.facilitator, *h.speakers, *h.attendees}
            known = {teams[p].team_at(h.at) for p in people} - {""}
            cross_sessions += len(known) >= 2
        gives: Counter[str] = Counter()
        for e in entries:
            if e.give:
                gives[e.member] += e.give
        points = sorted(gives.values(), reverse=True)
        total, absence, running = sum(points), 0, 0
        for p in points:
            if total and running * 2 < total:
                running += p
                absence += 1
        top = sum(points[: math.ceil(0.2 * len(points))])
        last6 = [h for h in self.held if h.at < end][-6:]
        ratings = [(r, applied) for at, r, applied in self.feedback if within(at)]
        opened = [i for i, at in self.opened.items() if within(at)]
        closed = [i for i in opened if i in self.closed and self.closed[i] < end]
        return {
            "members": len(members),
            "new_members": sum(1 for m in self.members if within(m.joined)),
            "active_members": len(members & active),
            "participation_rate": _ratio(len(members & active), len(members)),
            "inactive_members": len(members - recent),
            "sessions_held": len(held),
            "avg_attendance": _ratio(sum(len(h.attendees) for h in held), len(held)),
            "attendance_consistency": _ratio(consistent, len(members) if held else 0),
            "artifacts_published": sum(1 for at in self.published if within(at)),
            "reuses": len(reuses),
            "cross_team_reuses": cross_reuses,
            "cross_team_sessions": cross_sessions,
            "absence_factor": absence,
            "top20_share": _ratio(top, total),
            "facilitators_last6": len({h.facilitator for h in last6}),
            "sessions_last6": len(last6),
            "avg_rating": _ratio(sum(r for r, _ in ratings), len(ratings)),
            "applied_share": _ratio(sum(1 for _, a in ratings if a), len(ratings)),
            "action_closure_rate": _ratio(len(closed), len(opened)),
            "contributors_with_give": len(gives),
        }

    def alerts(self, now: datetime) -> list[list[str]]:
        """[period, alert] of every month that ended by `now`, as the contract defines them."""
        months = periods_between(self.start, now, month_of)
        numbers = [self.metrics(start, end) for _, start, end in months]
        raised = []
        for i, (key, _, end) in enumerate(months):
            if end > now:
                continue
            m = numbers[i]
            trend = [0.0] * max(0, 3 - i) + [
                n["avg_attendance"] for n in numbers[max(0, i - 3) : i + 1]
            ]
            if all(a > b for a, b in pairwise(trend)):
                raised.append([key, "stagnation"])
            if m["top20_share"] > 0.8 and m["contributors_with_give"] >= 5:
                raised.append([key, "dominance"])
            if m["facilitators_last6"] == 1 and m["sessions_last6"] >= 4:
                raised.append([key, "single_facilitator"])
        return sorted(raised)

    def leaderboard(self, start: datetime, end: datetime, limit: int = 10) -> list[list[Any]]:
        score: Counter[str] = Counter()
        for e in self.ledger:
            if start <= e.at < end and e.give:
                score[e.member] += e.give
        for at, member in self.received:
            if start <= at < end:
                score[member] += 2
        ranked = sorted((m for m in score if score[m] > 0), key=lambda m: (-score[m], m))
        return [[m, score[m]] for m in ranked[:limit]]


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0


# --- producing and catching up ---


async def produce(infra: BenchInfra, prefix: str, events: Iterable[CloudEvent]) -> Counter[str]:
    """Every event to its topic under `prefix`, keyed as the catalog says; counts per topic."""
    await ensure_topics(infra.kafka_bootstrap_servers, topic_prefix=prefix)
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    per_topic: Counter[str] = Counter()
    try:
        deliveries = []
        for event in events:
            record = encode(event)
            deliveries.append(
                await producer.send(
                    prefix + record.topic,
                    record.value,
                    key=record.key,
                    headers=[(k, v.encode()) for k, v in record.headers.items()],
                )
            )
            per_topic[record.topic] += 1
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return per_topic


@dataclass(frozen=True)
class Snapshot:
    at: float
    committed: int  # by the app's consumer group, over the four topics
    ends: int  # the four topics' end offsets
    caught_up: bool  # and every other group of the namespace has committed its partitions' ends


class Progress:
    """The namespace's consumer groups against the end offsets of the four topics."""

    def __init__(self, bootstrap: str, prefix: str, group: str) -> None:
        self._bootstrap, self._prefix, self._group = bootstrap, prefix, group
        self._namespace = prefix.rstrip(".")
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> "Progress":
        await self._admin.start()
        await self._consumer.start()
        topics = [self._prefix + str(t) for t in TOPICS]
        self._partitions = await partitions_of(self._bootstrap, topics)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def snapshot(self) -> Snapshot:
        ends = await self._consumer.end_offsets(self._partitions)
        groups = [
            g[0]
            for g in await self._admin.list_consumer_groups()
            if str(g[0]).startswith(f"{self._namespace}-")
        ]
        caught_up, committed = True, 0
        for group in {self._group, *groups}:
            offsets = await self._admin.list_consumer_group_offsets(group)
            for tp in self._partitions if group == self._group else offsets:
                if tp not in ends:
                    continue
                at = offsets[tp].offset if tp in offsets and offsets[tp].offset >= 0 else 0
                caught_up &= at >= ends[tp]
                if group == self._group:
                    committed += at
        return Snapshot(time.perf_counter(), committed, sum(ends.values()), caught_up)

    async def wait_caught_up(self, began: float, timeout_s: float) -> list[Snapshot]:
        """Snapshots every 0.25 s until two caught-up ones a second apart (the last)."""
        samples: list[Snapshot] = []
        first: Snapshot | None = None
        while True:
            snap = await self.snapshot()
            samples.append(snap)
            if not snap.caught_up:
                first = None
            elif first is None:
                first = snap
            elif snap.at - first.at >= 1.0 and snap.ends == first.ends:
                return [s for s in samples if s.at <= first.at]
            if snap.at - began > timeout_s:
                raise TimeoutError(
                    f"not caught up after {timeout_s:.0f}s: {snap.committed:,} of "
                    f"{snap.ends:,} records committed"
                )
            await asyncio.sleep(0.25)


def rates(samples: list[Snapshot], began: float) -> tuple[float, float, float]:
    """Seconds to catch up; records/s over all of it; records/s between 10 % and 90 %."""
    last = samples[-1]
    seconds = last.at - began
    low = next(s for s in samples if s.committed >= 0.1 * last.ends)
    high = next(s for s in samples if s.committed >= 0.9 * last.ends)
    steady = (high.committed - low.committed) / (high.at - low.at) if high.at > low.at else 0.0
    return seconds, last.ends / seconds, steady


# --- asking the service ---


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)

    def row(self) -> str:
        if not self.samples:
            return "no requests"
        ms = sorted(s * 1000 for s in self.samples)
        p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
        return f"{statistics.median(ms):.1f} / {p95:.1f} / {ms[-1]:.1f} ({len(ms)})"


async def timed_gets(
    client: httpx.AsyncClient, paths: Sequence[str], budget_s: float
) -> tuple[Latency, dict[str, Any]]:
    """GET each path (stopping when the budget is spent); latencies and the first answer of each."""
    latency, answers = Latency(), dict[str, Any]()
    deadline = time.perf_counter() + budget_s
    for path in paths:
        began = time.perf_counter()
        response = await client.get(path)
        latency.samples.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise AssertionError(f"GET {path}: {response.status_code} {response.text[:500]}")
        answers.setdefault(path, response.json())
        if time.perf_counter() > deadline:
            break
    return latency, answers


def cycle(rng: random.Random, items: Sequence[str], n: int) -> list[str]:
    order = list(items)
    rng.shuffle(order)
    return [order[i % len(order)] for i in range(n)]


class Checks:
    """The service's numbers against the generator's."""

    def __init__(self) -> None:
        self.compared = 0
        self.wrong: list[str] = []
        self.by_metric: Counter[str] = Counter()

    def metrics(self, where: str, got: dict[str, Any], expected: dict[str, float]) -> None:
        for name in METRICS:
            self.compared += 1
            value = got.get(name)
            if not isinstance(value, int | float) or abs(value - expected[name]) > 1e-4:
                self.by_metric[name] += 1
                self.wrong.append(f"{where} {name}: service {value}, expected {expected[name]}")

    def equal(self, what: str, where: str, got: Any, expected: Any) -> None:
        self.compared += 1
        if got != expected:
            self.by_metric[what] += 1
            self.wrong.append(f"{where}: service {got}, expected {expected}")

    def rows(self) -> dict[str, Any]:
        worst = ", ".join(f"{m} ({n})" for m, n in self.by_metric.most_common())
        return {
            "answers agreeing with the generator's own computation": (
                f"{self.compared - len(self.wrong)} of {self.compared}"
            ),
            "disagreeing, by metric (count)": worst or "none",
            "first disagreements": "; ".join(self.wrong[:6]) or "none",
        }


def check_health(checks: Checks, history: History, answer: dict[str, Any]) -> None:
    """A `/health` answer: its period and the previous one, every metric of both."""
    for block in (answer, answer.get("previous") or {}):
        key = block.get("period")
        if not isinstance(key, str) or not isinstance(block.get("metrics"), dict):
            checks.equal(
                "shape", f"health {answer.get('period')}", sorted(block), "period, metrics"
            )
            continue
        _, start, end = period_range(key)
        if "start" in block:
            got = datetime.fromisoformat(str(block["start"]).replace("Z", "+00:00"))
            checks.equal("start", f"health {key} start", got, start)
        checks.metrics(f"health {key}", block["metrics"], history.metrics(start, end))


async def evaluated(infra: BenchInfra, database: str, community: str) -> str:
    """Seconds until the service's periodic evaluation has judged every ended month.

    Observed, not driven: recognition marks the months that facts changed as `dirty` in its
    `communities` document and clears each once evaluated (the current month stays). When that
    layout is not found the wait is skipped and says so.
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    began, current = time.perf_counter(), month_of(datetime.now(UTC))[0]
    try:
        while True:
            doc = await client[database]["communities"].find_one({"_id": community})
            if doc is None or not isinstance(doc.get("dirty", {}), dict):
                return "not observable (no communities.dirty)"
            pending = set(doc.get("dirty", {})) - {current}
            if not pending:
                return f"{time.perf_counter() - began:.1f}"
            if time.perf_counter() - began > EVALUATION_TIMEOUT_S:
                return f"not done in {EVALUATION_TIMEOUT_S:.0f} s ({len(pending)} months left)"
            await asyncio.sleep(0.5)
    finally:
        await client.close()


async def leaderboard_keys(redis: Redis, community: str) -> list[str]:
    keys = [str(k) async for k in redis.scan_iter(match=f"*{community}*", count=1000)]
    return [k for k in keys if "leader" in k or "board" in k]


async def bench_health(infra: BenchInfra, sizes: HealthSizes) -> dict[str, Any]:
    """Generate, produce, catch up, check and time; one row of results."""
    from services.recognition.bootstrap import bootstrap

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request is noise here
    namespace = infra.namespace()
    prefix = f"{namespace}."
    # The periodic health evaluation would otherwise first run a minute after the start, in the
    # middle of the timed requests: run it every 2 s and wait for its first pass instead.
    settings = infra.settings(
        RecognitionSettings, namespace, health_evaluation_interval_s=EVALUATION_INTERVAL_S
    )
    run = namespace.removeprefix("bench")
    began = time.perf_counter()
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    history = History(sizes, anchor, run, settings.kudos_value_tags)
    events = history.events()
    generated_s = time.perf_counter() - began
    began = time.perf_counter()
    per_topic = await produce(infra, prefix, events)
    produced_s = time.perf_counter() - began
    row: dict[str, Any] = {
        "history": f"{sizes.members} members, {sizes.months} months to {anchor:%Y-%m-%d}, "
        f"seed {sizes.seed}; {len(history.held)} sessions held, "
        f"{len(history.published)} artifacts, {len(history.kudos)} kudos",
        "events produced (communities / sessions / knowledge / recognition)": (
            f"{len(events):,} ({' / '.join(f'{per_topic[t]:,}' for t in TOPICS)})"
        ),
        "generated, produced in s": f"{generated_s:.1f}, {produced_s:.1f}",
    }
    redis = Redis.from_url(infra.redis_url, decode_responses=True)
    rng = random.Random(sizes.seed)
    try:
        app = bootstrap(settings)
        started = time.perf_counter()
        group = settings.kafka_consumer_group
        async with (
            serving(app, settings) as client,
            Progress(infra.kafka_bootstrap_servers, prefix, group) as progress,
        ):
            row["app started in s"] = round(time.perf_counter() - started, 1)
            samples = await progress.wait_caught_up(started, timeout_s=max(180.0, len(events) / 20))
            seconds, overall, steady = rates(samples, started)
            own = samples[-1].ends - len(events)
            row["records the projection read (incl. recognition's own judgements etc.)"] = (
                f"{samples[-1].ends:,} ({own:,} published by recognition)"
            )
            row["caught up in s (from app start)"] = round(seconds, 1)
            row["projection events/s (all records / catch-up time)"] = round(overall)
            row["projection events/s (10-90 % of committed offsets)"] = round(steady)
            row["health evaluation of the ended months after catching up, s"] = await evaluated(
                infra, settings.mongodb_database, history.community
            )
            row.update(await measure(client, redis, history, sizes, rng))
    finally:
        async for key in redis.scan_iter(match=f"*{run}*", count=1000):
            await redis.delete(key)
        await redis.aclose()
    return row


async def measure(
    client: httpx.AsyncClient,
    redis: Redis,
    history: History,
    sizes: HealthSizes,
    rng: random.Random,
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    checks = Checks()
    base = f"/communities/{history.community}"
    last = history.end - timedelta(microseconds=1)
    months = periods_between(history.start, last, month_of)
    quarters = periods_between(history.start, last, quarter_of)
    col = "ms p50 / p95 / max (requests)"

    paths = cycle(rng, [f"{base}/health?period={m[0]}" for m in months], sizes.requests)
    latency, answers = await timed_gets(client, paths, sizes.budget_s)
    row[f"GET health?period=YYYY-MM, {col}"] = latency.row()
    for answer in answers.values():
        check_health(checks, history, answer)

    paths = cycle(rng, [f"{base}/health?period={q[0]}" for q in quarters], sizes.requests)
    latency, answers = await timed_gets(client, paths, sizes.budget_s)
    row[f"GET health?period=YYYY-Qn, {col}"] = latency.row()
    for answer in answers.values():
        check_health(checks, history, answer)

    trend = f"{base}/health/trend?from={months[0][0]}&to={months[-1][0]}"
    latency, answers = await timed_gets(client, [trend] * sizes.requests, sizes.budget_s)
    row[f"GET health/trend ({len(months)} months), {col}"] = latency.row()
    series = answers[trend].get("months", [])
    got = [m.get("period") for m in series]
    checks.equal("trend months", "trend months", got, [m[0] for m in months])
    for month, (key, start, end) in zip(series, months, strict=False):
        checks.metrics(f"trend {key}", month.get("metrics", {}), history.metrics(start, end))

    now = datetime.now(UTC)
    of_kind = {"month": month_of, "quarter": quarter_of, "week": week_of}
    found = await leaderboard_keys(redis, history.community)
    row["leaderboard keys in Redis for the community"] = (
        f"{len(found)}, e.g. {found[0]}" if found else "none found (cannot time a rebuild)"
    )
    for period in LEADERBOARD_PERIODS:
        if period == "all":
            key, start, end = "all", history.start - timedelta(days=1), now + timedelta(days=1)
        else:
            key, start, end = of_kind[period](now)
        expected = history.leaderboard(start, end)
        path = f"{base}/leaderboard?period={period}&limit=10"
        rebuild = Latency()
        for _ in range(REBUILDS_PER_PERIOD if found else 0):
            for k in await leaderboard_keys(redis, history.community):
                await redis.delete(k)
            began = time.perf_counter()
            response = await client.get(path)
            rebuild.samples.append(time.perf_counter() - began)
            check_leaderboard(
                checks, f"leaderboard {period} (rebuilt)", response.json(), key, expected
            )
        if rebuild.samples:
            row[f"GET leaderboard?period={period} after emptying Redis, {col}"] = rebuild.row()
        latency, answers = await timed_gets(client, [path] * sizes.requests, sizes.budget_s)
        row[f"GET leaderboard?period={period}, {col}"] = latency.row()
        check_leaderboard(checks, f"leaderboard {period}", answers[path], key, expected)

    answer = (await client.get(f"{base}/alerts")).json()
    raised = sorted([a.get("period"), a.get("alert")] for a in answer.get("alerts", []))
    checks.equal("alerts", "alerts raised", raised, history.alerts(datetime.now(UTC)))
    row["alerts raised"] = ", ".join(f"{p} {a}" for p, a in raised) or "none"

    some = [m.id for m in history.members]
    paths = cycle(
        rng, [f"/members/{m}/profile?community={history.community}" for m in some], sizes.requests
    )
    latency, _ = await timed_gets(client, paths, sizes.budget_s)
    row[f"GET /members/{{id}}/profile?community=, {col}"] = latency.row()
    row.update(checks.rows())
    return row


def check_leaderboard(
    checks: Checks, where: str, answer: dict[str, Any], key: str, expected: list[list[Any]]
) -> None:
    listed = answer.get("entries", [])
    checks.equal("leaderboard period", f"{where} period", answer.get("period"), key)
    entries = [[e.get("member_id"), e.get("score")] for e in listed]
    positive = [e for e in entries if (e[1] or 0) > 0]
    checks.equal("leaderboard entries", f"{where} entries", positive, expected)
    ranks = [e.get("rank") for e in listed]
    checks.equal("leaderboard ranks", f"{where} ranks", ranks, list(range(1, len(listed) + 1)))


# --- alone: python -m bench.recognition_health ---


def write(row: dict[str, Any], infra: BenchInfra, mongodb: str) -> None:
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "infra": infra.origin,
        "mongodb": mongodb,
        "recognition health": row,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "recognition_health.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Recognition: community health and leaderboards", ""]
    lines += [f"{results['when']} on {results['machine']}", ""]
    lines += [f"Infrastructure: {infra.origin}", "", f"MongoDB-protocol server: {mongodb}", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in row.items()]
    (OUT / "recognition_health.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    defaults = HealthSizes.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=defaults.members)
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument("--requests", type=int, default=defaults.requests, help="per endpoint")
    parser.add_argument("--budget-s", type=float, default=defaults.budget_s, help="per endpoint")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args()
    sizes = HealthSizes(args.members, args.months, args.requests, args.budget_s, args.seed)

    async def run(infra: BenchInfra) -> dict[str, Any]:
        try:
            return await bench_health(infra, sizes)
        finally:
            await delete_topics(infra)

    with provide_infra() as infra:
        row = asyncio.run(run(infra))
        write(row, infra, asyncio.run(mongo_server(infra.mongodb_uri)))


if __name__ == "__main__":
    main()
