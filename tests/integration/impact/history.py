"""A constructed CI/CD and community history, built once as plain facts: sent to the platform as
CDEvents (through the gateway) and domain events (on their topics), and read by
`impact_reference`, which computes the expected figures without the service's code.

Eight services of six teams over January to June 2026: changes merged, packaged and deployed
(to staging, then production, by `deployed` or `upgraded`), some redeployed, some rebuilt into a
second artifact, some without a merge or a packaging event, some merged after they were
deployed; rollbacks; incidents naming the artifact, the service or neither, resolved or open,
one resolved before it was detected, some in staging. One service is never given an owner.
Beside them, members of those teams (one moves team), sessions (one held twice), artifacts,
reuses and kudos.
"""

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.cicd_facts import Fact, at, cdevent
from shared.events.catalog import (
    ArtifactKind,
    ArtifactPublished,
    ArtifactReused,
    KudosJudged,
    KudosVerdict,
    MemberProfileUpdated,
    RecipientVerdict,
    SessionFormat,
    SessionHeld,
)
from shared.events.envelope import CloudEvent, new_event

# service -> its first owner; the etl service moves to ml from April (with `since`), the
# gateway to platform-sre now (without: from the moment it is assigned); orphan has none.
SERVICES = {
    "service/pay-api": "payments",
    "service/pay-ledger": "payments",
    "service/search": "search",
    "service/gateway": "platform",
    "service/mobile-bff": "mobile",
    "service/etl": "data",
    "service/recs": "ml",
    "service/orphan": None,
}
ETL_MOVES_TO, ETL_MOVES_ON = "ml", datetime(2026, 4, 1, tzinfo=UTC)
GATEWAY_NOW_GOES_TO = "platform-sre"
TEAMS = ("payments", "search", "platform", "mobile", "data", "ml", "platform-sre")
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06")
PRODUCTION = frozenset({"production", "prod"})

MEMBERS = {  # member -> first team ("" for none), from December 2025
    "p1": "payments", "p2": "payments", "p3": "payments", "p4": "payments",
    "s1": "search", "s2": "search",
    "f1": "platform", "f2": "platform", "f3": "platform",
    "m1": "mobile", "m2": "",
    "d1": "data", "d2": "data",
    "l1": "ml", "l2": "ml",
}  # fmt: skip
TEAM_CHANGES = [  # (when, member, new team)
    ("2026-03-15 12:00", "p4", "search"),
    ("2026-02-10 09:00", "s3", "search"),  # a member whose first profile comes later
    ("2026-04-20 08:00", "m2", "mobile"),
    ("2026-05-05 08:00", "d2", "ml"),
]


@dataclass
class History:
    seed: int = 24
    facts: list[Fact] = field(default_factory=list)
    domain: list[CloudEvent] = field(default_factory=list)
    _taken: dict[str, set[datetime]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        for service in SERVICES:
            for month in MONTHS:
                for _ in range(self.random.randint(2, 5)):
                    self._change(service, month)
        self._odd_ones()
        self._people()

    # --- CI/CD ---

    def _free(self, service: str, moment: datetime) -> datetime:
        """A moment no other production fact of the service has (ties are never in question)."""
        taken = self._taken.setdefault(service, set())
        while moment in taken:
            moment += timedelta(minutes=1)
        taken.add(moment)
        return moment

    def _change(self, service: str, month: str) -> None:
        r = self.random
        name = service.split("/")[1]
        day = r.randint(1, 28)
        merged = at(f"{month}-{day:02d} {r.randint(6, 20):02d}:{r.choice((0, 15, 30, 45)):02d}")
        change = f"github.com/acme/{name}/pull/{uuid.UUID(int=r.getrandbits(128)).hex[:8]}"
        artifact = f"pkg:oci/{name}@sha256%3A{uuid.UUID(int=r.getrandbits(128)).hex}"
        lead = timedelta(minutes=15 * r.randint(4, 4 * 72))
        deployed_at = self._free(service, merged + lead)
        shape = r.random()
        if shape < 0.08:
            pass  # no merge event
        elif shape < 0.13:
            self.facts.append(Fact("merged", deployed_at + timedelta(hours=2), change))
        else:
            self.facts.append(Fact("merged", merged, change))
        if r.random() >= 0.08:
            self.facts.append(
                Fact("packaged", merged + timedelta(minutes=10), artifact, change=change)
            )
        self._deploy(service, merged + timedelta(minutes=30), artifact, "staging")
        kind = "upgraded" if r.random() < 0.3 else "deployed"
        self._deploy(service, deployed_at, artifact, r.choice(sorted(PRODUCTION)), kind)
        if r.random() < 0.1:  # a redeploy of the same artifact
            self._deploy(service, self._free(service, deployed_at + timedelta(hours=3)), artifact)
        if r.random() < 0.08:  # the change rebuilt into a second artifact, deployed later
            rebuilt = artifact + "-rebuilt"
            self.facts.append(Fact("packaged", deployed_at, rebuilt, change=change))
            self._deploy(service, self._free(service, deployed_at + timedelta(hours=5)), rebuilt)
        if r.random() < 0.1:
            when = self._free(service, deployed_at + timedelta(minutes=30))
            self.facts.append(Fact("rolledback", when, service, "production", artifact))
        self._incidents(service, deployed_at, artifact)

    def _deploy(
        self,
        service: str,
        when: datetime,
        artifact: str,
        environment: str = "production",
        kind: str = "deployed",
    ) -> None:
        self.facts.append(Fact(kind, when, service, environment, artifact))

    def _incidents(self, service: str, deployed_at: datetime, artifact: str) -> None:
        r = self.random
        shape = r.random()
        if shape < 0.12:
            self._incident(service, deployed_at + timedelta(hours=1), service, artifact)
        elif shape < 0.2:
            self._incident(service, deployed_at + timedelta(minutes=45), service, None)
        elif shape < 0.24:
            self._incident(service, deployed_at + timedelta(minutes=50), None, artifact)
        elif shape < 0.27:
            incident = f"INC-{uuid.UUID(int=r.getrandbits(128)).hex[:6]}"
            self.facts.append(
                Fact("detected", deployed_at + timedelta(minutes=20), incident, "staging",
                     artifact, service=service)
            )  # fmt: skip

    def _incident(
        self, deployed_by: str, when: datetime, service: str | None, artifact: str | None
    ) -> None:
        """A production incident after a deployment of `deployed_by`, naming the service, the
        artifact, both or (never here) neither."""
        r = self.random
        incident = f"INC-{uuid.UUID(int=r.getrandbits(128)).hex[:6]}"
        detected = self._free(deployed_by, when)
        self.facts.append(
            Fact("detected", detected, incident, "production", artifact, service=service)
        )
        if r.random() < 0.8:
            resolved = detected + timedelta(minutes=15 * r.randint(1, 4 * 30))
            self.facts.append(Fact("resolved", resolved, incident))

    def _odd_ones(self) -> None:
        """Facts the random ones may not give: a rollback in the month after the deployment it
        fails (the last of January), an incident detected twice, and a resolution timed before
        its detection."""
        last_of_january = self._free("service/search", at("2026-01-31 23:40"))
        self._deploy("service/search", last_of_january, "pkg:oci/search@sha256%3Alate")
        rollback = self._free("service/search", at("2026-02-01 00:10"))
        self.facts.append(Fact("rolledback", rollback, "service/search", "production", "x"))
        twice = "INC-two-monitors"  # detected by two monitors: counted once, from the first
        first = self._free("service/pay-ledger", at("2026-02-17 08:02"))
        for when in (first, self._free("service/pay-ledger", first + timedelta(minutes=9))):
            self.facts.append(
                Fact("detected", when, twice, "production", service="service/pay-ledger")
            )
        self.facts.append(Fact("resolved", first + timedelta(hours=3), twice))
        incident = "INC-reversed"
        detected = self._free("service/pay-api", at("2026-03-11 10:07"))
        self.facts.append(
            Fact("detected", detected, incident, "prod", None, service="service/pay-api")
        )
        self.facts.append(Fact("resolved", detected - timedelta(minutes=30), incident))

    # --- people ---

    def _add(self, when: datetime, data: Any) -> None:
        self.domain.append(new_event(data, source="test/impact", time=when))

    def _profile(self, when: datetime, member: str, team: str) -> None:
        self._add(
            when,
            MemberProfileUpdated(
                member_id=member, name=member.upper(), email=f"{member}@example.com", team=team
            ),
        )

    def _people(self) -> None:
        r = self.random
        for member, team in MEMBERS.items():
            self._profile(at("2025-12-01 09:00"), member, team)
        for when, member, team in TEAM_CHANGES:
            self._profile(at(when), member, team)
        everyone = sorted({*MEMBERS, "s3"})
        for month in MONTHS:
            for n in range(2):
                held = at(f"{month}-{r.randint(1, 27):02d} {r.randint(9, 16):02d}:00")
                session = f"session-{month}-{n}"
                attendees = sorted(r.sample(everyone, r.randint(2, 7)))
                self._session(held, session, attendees)
                if month == "2026-02" and n == 0:  # held twice: counted once
                    self._session(held + timedelta(hours=2), session, attendees)
            for n in range(r.randint(1, 3)):
                authors = r.sample(everyone, r.randint(1, 2))
                self._add(
                    at(f"{month}-{r.randint(1, 27):02d} 11:00"),
                    ArtifactPublished(
                        artifact_id=f"kb-{month}-{n}",
                        community_id="guild",
                        kind=ArtifactKind.PATTERN,
                        title=f"Pattern {month} {n}",
                        body_markdown="How we do it.",
                        author_ids=authors,
                    ),
                )
            for _ in range(r.randint(1, 4)):
                self._add(
                    at(f"{month}-{r.randint(1, 27):02d} 14:00"),
                    ArtifactReused(
                        artifact_id=f"kb-{month}-0",
                        community_id="guild",
                        member_id=r.choice(everyone),
                        team=r.choice([*TEAMS[:6], ""]),
                    ),
                )
            for n in range(r.randint(1, 4)):
                recipients = r.sample(everyone, r.randint(1, 3))
                self._add(
                    at(f"{month}-{r.randint(1, 27):02d} 16:00"),
                    KudosJudged(
                        kudos_id=f"kudos-{month}-{n}",
                        community_id="guild",
                        from_id="f1",
                        message="thanks",
                        value_tag="mentoring",
                        period=month,
                        recipients=[
                            RecipientVerdict(
                                member_id=m,
                                verdict=KudosVerdict.COUNTED
                                if r.random() < 0.8
                                else KudosVerdict.ALLOWANCE_EXHAUSTED,
                            )
                            for m in recipients
                        ],
                    ),
                )

    def _session(self, held: datetime, session: str, attendees: list[str]) -> None:
        self._add(
            held,
            SessionHeld(
                session_id=session,
                community_id="guild",
                held_at=held,
                duration_minutes=45,
                format=SessionFormat.JOURNAL_CLUB,
                title="Journal club",
                facilitator_id="f1",
                attendee_ids=attendees,
            ),
        )

    # --- as CDEvents ---

    def cdevents(self) -> list[dict[str, Any]]:
        """Each CI/CD fact as the structured-mode CloudEvent a CI/CD system sends (without a
        partition key), ids `ci-<n>`."""
        return [cdevent(f, f"ci-{n}") for n, f in enumerate(self.facts)]
