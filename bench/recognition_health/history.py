"""The seeded history of one community, the facts a real one would publish, kept so that the
reference (`bench.recognition_health.reference`) can add them up on its own."""

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.harness import Facts, sizes_from_env
from bench.recognition_health.periods import month_of, periods_between, week_of
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

SOURCE = "bench/recognition-health"
TEAMS = 10
CORE = 12  # founders who facilitate most sessions; they never leave
EAGER_GIVERS = 3  # give 3 recipients twice a week: ~26 a month, more than the allowance of 20
ALLOWANCE = 20  # counted recipients per giver and calendar month (the contract's default)


@dataclass(frozen=True)
class HealthSizes:
    members: int = 500
    months: int = 24
    requests: int = 200
    budget_s: float = 15.0  # per endpoint
    seed: int = 7

    @classmethod
    def from_env(cls) -> "HealthSizes":
        return sizes_from_env(cls(), "BENCH_HEALTH_")


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
    """One community's facts in time order, and the records the reference adds up: who was a
    member when, sessions held, feedback, action items, artifacts, reuses, the ledger, kudos."""

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
        self.facts = Facts(SOURCE, self.community)
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
        self.facts.add(
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
                self.facts.add(
                    since,
                    MemberProfileUpdated(
                        member_id=m.id,
                        name=f"Bench member {i}",
                        email=f"{m.id}@example.com",
                        team=team,
                    ),
                )
            role = Role.CORE if i < CORE else Role.MEMBER
            self.facts.add(
                m.joined, MemberJoined(community_id=self.community, member_id=m.id, role=role)
            )
            if m.left is not None:
                self.facts.add(m.left, MemberLeft(community_id=self.community, member_id=m.id))

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
        session: dict[str, Any] = {  # as announced a week ahead, and as held
            "session_id": session_id,
            "community_id": self.community,
            "title": f"Session {n}: {fmt.value.replace('_', ' ')}",
            "format": fmt,
            "duration_minutes": duration,
            "facilitator_id": facilitator.id,
            "speaker_ids": [s.id for s in speakers],
        }
        announced = held_at - timedelta(days=7)
        if announced > self.start:
            self.facts.add(announced, SessionScheduled(**session, starts_at=held_at))
        if at >= self.end:
            return
        attendee_ids = [a.id for a in listed]
        self.facts.add(at, SessionHeld(**session, held_at=held_at, attendee_ids=attendee_ids))
        self.held.append(
            Held(at, facilitator.id, tuple(s.id for s in speakers), tuple(attendee_ids))
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
            self.facts.add(
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
        opened = at + timedelta(minutes=5)
        item: dict[str, Any] = {  # as opened, and as closed
            "action_item_id": item_id,
            "community_id": self.community,
            "session_id": session_id,
            "title": f"Follow up on {session_id}",
            "owner_id": owner.id,
        }
        self.facts.add(opened, ActionItemOpened(**item))
        self.opened[item_id] = opened
        closed = opened + timedelta(days=self.rng.uniform(3, 60))
        if self.rng.random() < 0.7 and closed < self.end and owner.active_at(closed):
            self.facts.add(closed, ActionItemClosed(**item, outcome="done and written up"))
            self.closed[item_id] = closed
            self.ledger.append(Entry(closed, owner.id, 2, 0))

    def _artifact(self, week: datetime, pool: list[Member]) -> None:
        rng, artifact_id = self.rng, f"art{len(self.published):04d}-{self.run}"
        at = week + timedelta(seconds=rng.uniform(0, 7 * 86400))
        if at >= self.end:
            return
        authors = self._pick(pool, rng.choice((1, 1, 2, 3)))
        self.facts.add(
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
            self.facts.add(
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
            self.facts.add(
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
        self.facts.add(
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
