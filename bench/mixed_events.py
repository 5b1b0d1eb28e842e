"""A seeded, internally consistent history of many communities: every domain event type.

Each community lives a year week by week: founded with its charter, members join (and a few
leave, profiles change), one session a week is scheduled (some moved, some cancelled) and held
with attendees who check in and give feedback, action items are opened and later closed,
artifacts are published, revised, reused and now and then retired, kudos are given; its stage
moves on and its leader changes once. Recognition's decisions (`kudos.judged`, `badge.awarded`,
`health.alert_raised`) are part of the history for every consumer but recognition itself, which
makes them. Communities are added until the history has `n` events; the events are ordered by
time and the first `n` kept, so nothing refers to an event that was cut.
"""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from bench.harness import send_records
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    ArtifactKind,
    ArtifactPublished,
    ArtifactRetired,
    ArtifactReused,
    ArtifactRevised,
    AttendanceRecorded,
    BadgeAwarded,
    Charter,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    FeedbackSubmitted,
    HealthAlertRaised,
    KudosGiven,
    KudosJudged,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    Role,
    SessionCancelled,
    SessionFormat,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
    Stage,
)
from shared.events.codec import KafkaRecord, encode
from shared.events.envelope import new_event

SOURCE = "bench/mixed"
WEEKS = 52
TEAMS = 12
VALUE_TAGS = ("collaboration", "mentoring", "knowledge_sharing", "quality", "helpfulness")
TAGS = ("testing", "ci", "observability", "kafka", "python", "security", "ddd", "design")
DECISIONS = frozenset({"cop.kudos.judged.v1", "cop.badge.awarded.v1", "cop.health.alert_raised.v1"})
"""Recognition's own decisions: recognition makes them, every other consumer reads them."""
WORDS = (
    "pairing",
    "review",
    "pipeline",
    "flaky",
    "test",
    "contract",
    "schema",
    "rollout",
    "canary",
    "incident",
    "postmortem",
    "latency",
    "budget",
    "retry",
    "backoff",
    "idempotent",
    "consumer",
    "partition",
    "replay",
    "projection",
    "boundary",
    "module",
    "ownership",
    "onboarding",
    "mentoring",
    "guild",
    "chapter",
    "practice",
    "pattern",
    "playbook",
    "checklist",
)


@dataclass(frozen=True)
class Timed:
    """One event of the history before it is wrapped: when, what, and a tie-breaker."""

    at: datetime
    seq: int
    data: BaseModel


@dataclass
class _Community:
    cid: str
    members: list[str]
    leader: str
    artifacts: dict[str, int] = field(default_factory=dict)  # id -> current version
    retired: set[str] = field(default_factory=set)
    open_items: list[tuple[str, str, str, datetime]] = field(default_factory=list)


class _History:
    def __init__(self, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.items: list[Timed] = []
        self.profiled: set[str] = set()
        self.talks: set[str] = set()
        self.seq = 0

    def add(self, at: datetime, data: BaseModel) -> None:
        self.seq += 1
        self.items.append(Timed(at, self.seq, data))

    def words(self, k: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(k))

    def profile(self, member: str, at: datetime) -> None:
        self.add(
            at,
            MemberProfileUpdated(
                member_id=member,
                name=f"Member {member}",
                email=f"{member}@example.com",
                team=f"team-{self.rng.randrange(TEAMS)}",
                chat_handle=f"@{member}",
                timezone=self.rng.choice(("UTC", "Europe/Berlin", "America/New_York")),
            ),
        )

    def join(self, c: _Community, member: str, at: datetime, role: Role = Role.MEMBER) -> None:
        if member not in self.profiled:
            self.profiled.add(member)
            self.profile(member, at - timedelta(minutes=1))
        self.add(at, MemberJoined(community_id=c.cid, member_id=member, role=role))
        c.members.append(member)

    def community(self, index: int, pool: Sequence[str]) -> None:
        rng, cid = self.rng, f"c{index}"
        founded = self.start + timedelta(hours=rng.randrange(24 * 6))
        members = rng.sample(list(pool), min(len(pool), rng.randrange(25, 45)))
        c = _Community(cid, [], members[0])
        self.add(
            founded,
            CommunityCreated(
                community_id=cid,
                name=f"Community {index}",
                domain=rng.choice(TAGS),
                charter=Charter(
                    purpose=f"Share what works in {self.words(3)}",
                    scope=self.words(12),
                    goals=[self.words(4), self.words(4)],
                    success_measures=[self.words(5)],
                ),
                leader_id=c.leader,
                sponsor_ids=[members[1]],
            ),
        )
        for i, member in enumerate(members):
            role = Role.CORE if i < 4 else Role.MEMBER
            self.join(c, member, founded + timedelta(minutes=5 + i), role)
        stages = [Stage.COALESCING, Stage.MATURING, Stage.STEWARDSHIP]
        for week in range(WEEKS):
            monday = self.start + timedelta(weeks=week)
            if week % 13 == 12 and stages:
                self.add(monday, CommunityUpdated(community_id=cid, stage=stages.pop(0)))
            if week == 26:
                new_leader = c.members[1]
                self.add(
                    monday + timedelta(hours=1),
                    CommunityLeaderChanged(
                        community_id=cid, leader_id=new_leader, previous_leader_id=c.leader
                    ),
                )
                c.leader = new_leader
            self.week(c, monday, week, pool)
        self.add(
            self.start + timedelta(weeks=WEEKS // 2, days=1),
            HealthAlertRaised(
                community_id=cid,
                alert="single_facilitator",
                period=(self.start + timedelta(weeks=WEEKS // 2)).strftime("%Y-%m"),
                details={"facilitators_last6": 1},
            ),
        )

    def week(self, c: _Community, monday: datetime, week: int, pool: Sequence[str]) -> None:
        rng = self.rng
        if rng.random() < 0.3:
            newcomer = rng.choice(pool)
            if newcomer not in c.members:
                self.join(c, newcomer, monday + timedelta(hours=2))
        if rng.random() < 0.1 and len(c.members) > 10:
            leaver = c.members[-1]
            if leaver != c.leader:
                c.members.remove(leaver)
                self.add(
                    monday + timedelta(hours=3), MemberLeft(community_id=c.cid, member_id=leaver)
                )
        if rng.random() < 0.2:
            self.profile(rng.choice(c.members), monday + timedelta(hours=4))
        self.session(c, monday, week)
        self.knowledge(c, monday, week)
        self.kudos(c, monday, week)
        for item_id, session_id, owner, opened in list(c.open_items):
            if opened + timedelta(weeks=2) <= monday and rng.random() < 0.7:
                c.open_items.remove((item_id, session_id, owner, opened))
                self.add(
                    monday + timedelta(hours=10),
                    ActionItemClosed(
                        action_item_id=item_id,
                        community_id=c.cid,
                        session_id=session_id,
                        title=f"Try {self.words(3)}",
                        owner_id=owner,
                        outcome=self.words(8),
                    ),
                )

    def session(self, c: _Community, monday: datetime, week: int) -> None:
        rng, cid = self.rng, c.cid
        sid = f"{cid}-s{week}"
        scheduled_at = monday + timedelta(hours=5)
        starts = monday + timedelta(days=3, hours=12)
        facilitator = rng.choice(c.members[:6])
        speakers = rng.sample(c.members, 2)
        fmt = rng.choice(list(SessionFormat))
        session: dict[str, Any] = {  # as scheduled, and as held
            "session_id": sid,
            "community_id": cid,
            "title": f"{fmt.value.replace('_', ' ').title()}: {self.words(4)}",
            "format": fmt,
            "facilitator_id": facilitator,
            "speaker_ids": speakers,
        }
        self.add(
            scheduled_at,
            SessionScheduled(
                **session,
                starts_at=starts,
                duration_minutes=rng.choice((30, 45, 60, 90)),
                location="https://meet.example.com/cop",
                agenda=[self.words(3), self.words(3)],
                tags=rng.sample(TAGS, 2),
            ),
        )
        if rng.random() < 0.2:
            starts += timedelta(days=1)
            self.add(
                scheduled_at + timedelta(days=1),
                SessionRescheduled(session_id=sid, community_id=cid, starts_at=starts),
            )
        if rng.random() < 0.08:
            self.add(
                starts - timedelta(hours=3),
                SessionCancelled(session_id=sid, community_id=cid, reason="speaker is ill"),
            )
            return
        attendees = rng.sample(c.members, min(len(c.members), rng.randrange(6, 22)))
        for member in attendees[:3]:
            self.add(
                starts + timedelta(minutes=2),
                AttendanceRecorded(
                    session_id=sid,
                    community_id=cid,
                    member_id=member,
                    checked_in_at=starts + timedelta(minutes=2),
                ),
            )
        held = starts + timedelta(hours=1)
        self.add(
            held,
            SessionHeld(
                **session,
                held_at=held,
                duration_minutes=60,
                attendee_ids=attendees,
                recording_url=f"https://video.example.com/{sid}",
            ),
        )
        for speaker in speakers:
            if speaker not in self.talks:
                self.talks.add(speaker)
                self.add(
                    held + timedelta(seconds=5),
                    BadgeAwarded(
                        member_id=speaker, badge="first_talk", community_id=cid, reason=sid
                    ),
                )
        for member in attendees:
            if rng.random() < 0.4:
                self.add(
                    held + timedelta(hours=rng.randrange(1, 30)),
                    FeedbackSubmitted(
                        session_id=sid,
                        community_id=cid,
                        member_id=member,
                        rating=rng.randrange(1, 6),
                        plus=self.words(6),
                        delta=self.words(4),
                        applied=rng.random() < 0.3,
                    ),
                )
        if rng.random() < 0.5:
            item_id, owner = f"{sid}-a", rng.choice(attendees)
            c.open_items.append((item_id, sid, owner, held))
            self.add(
                held + timedelta(minutes=30),
                ActionItemOpened(
                    action_item_id=item_id,
                    community_id=cid,
                    session_id=sid,
                    title=f"Try {self.words(3)}",
                    owner_id=owner,
                    due=held + timedelta(weeks=3),
                ),
            )

    def knowledge(self, c: _Community, monday: datetime, week: int) -> None:
        rng, cid = self.rng, c.cid
        at = monday + timedelta(days=4, hours=9)
        live = [a for a in c.artifacts if a not in c.retired]
        if rng.random() < 0.6:
            aid = f"{cid}-a{week}"
            authors = rng.sample(c.members, rng.randrange(1, 3))
            kind = rng.choice([k for k in ArtifactKind if k != ArtifactKind.MINUTES])
            c.artifacts[aid] = 1
            self.add(
                at,
                ArtifactPublished(
                    artifact_id=aid,
                    community_id=cid,
                    kind=kind,
                    title=f"{kind.value.replace('_', ' ').title()}: {self.words(4)}",
                    summary=self.words(15),
                    body_markdown="# " + self.words(4) + "\n\n" + self.words(120),
                    author_ids=authors,
                    tags=rng.sample(TAGS, 3),
                    related_artifact_ids=rng.sample(live, min(2, len(live))),
                ),
            )
        if live and rng.random() < 0.3:
            aid = rng.choice(live)
            c.artifacts[aid] += 1
            self.add(
                at + timedelta(hours=2),
                ArtifactRevised(
                    artifact_id=aid,
                    community_id=cid,
                    version=c.artifacts[aid],
                    editor_id=rng.choice(c.members),
                    change_note=self.words(5),
                    summary=self.words(12),
                ),
            )
        if live and rng.random() < 0.4:
            self.add(
                at + timedelta(hours=3),
                ArtifactReused(
                    artifact_id=rng.choice(live),
                    community_id=cid,
                    member_id=rng.choice(c.members),
                    team=f"team-{rng.randrange(TEAMS)}",
                    context=self.words(8),
                ),
            )
        if len(live) > 5 and rng.random() < 0.03:
            aid = live[0]
            c.retired.add(aid)
            self.add(
                at + timedelta(hours=4),
                ArtifactRetired(
                    artifact_id=aid,
                    community_id=cid,
                    version=c.artifacts[aid],
                    editor_id=c.leader,
                    reason="superseded",
                    superseded_by=live[-1],
                ),
            )

    def kudos(self, c: _Community, monday: datetime, week: int) -> None:
        rng, cid = self.rng, c.cid
        for k in range(3):
            giver, *recipients = rng.sample(c.members, rng.randrange(2, 4))
            kid = f"{cid}-k{week}-{k}"
            at = monday + timedelta(days=k + 1, hours=15)
            tag = rng.choice(VALUE_TAGS)
            message = f"Thanks for the {self.words(2)}"
            self.add(
                at,
                KudosGiven(
                    kudos_id=kid,
                    from_id=giver,
                    to_ids=recipients,
                    community_id=cid,
                    message=message,
                    value_tag=tag,
                ),
            )
            self.add(
                at + timedelta(seconds=1),
                KudosJudged(
                    kudos_id=kid,
                    community_id=cid,
                    from_id=giver,
                    message=message,
                    value_tag=tag,
                    period=at.strftime("%Y-%m"),
                    recipients=[{"member_id": r, "verdict": "counted"} for r in recipients],
                ),
            )


def history(n: int, *, seed: int = 1, decisions: bool = True) -> list[Timed]:
    """The first `n` facts (by time) of a year of as many communities as it takes."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(weeks=WEEKS + 1, days=today.weekday())
    h = _History(seed, start)
    index = 0
    while len(h.items) < n:
        pool = [f"u{i}" for i in range((index // 4) * 60, (index // 4) * 60 + 120)]
        h.community(index, pool)
        index += 1
    items = h.items
    if not decisions:
        from shared.events.catalog import spec_for_model

        items = [t for t in items if spec_for_model(type(t.data)).type not in DECISIONS]
    items.sort(key=lambda t: (t.at, t.seq))
    return items[:n]


def mixed_events(n: int, *, seed: int = 1, decisions: bool = True) -> list[Any]:
    """`n` CloudEvents in time order; without recognition's decisions if `decisions` is False."""
    rng = random.Random(seed * 7919)
    return [
        new_event(
            t.data,
            source=SOURCE,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            time=t.at,
        )
        for t in history(n, seed=seed, decisions=decisions)
    ]


def encode_all(events: Sequence[Any]) -> list[KafkaRecord]:
    return [encode(e) for e in events]


async def produce(bootstrap: str, prefix: str, records: Sequence[KafkaRecord]) -> float:
    """Every record to `<prefix><topic>` with its key and headers, as fast as the broker takes
    them (acks=all, idempotent); returns the seconds it took."""
    return await send_records(
        bootstrap,
        records,
        lambda record: prefix + record.topic,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )


def type_counts(events: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event.type] = counts.get(event.type, 0) + 1
    return dict(sorted(counts.items()))
