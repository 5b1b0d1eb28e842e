"""A seeded year of CI/CD for an organisation of teams, as plain facts: what their pipelines and
incident tools would send, who owns which service, the teams' members and the sessions they
attended, and the per team and month counts the service's answers are checked against."""

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bench.cicd_facts import Fact as CicdFact  # told apart from `Facts`, the community events
from bench.harness import Facts, sizes_from_env
from bench.recognition_health.periods import month_of, month_start, periods_between, quarter_of
from shared.events.catalog import MemberProfileUpdated, SessionFormat, SessionHeld

SOURCE = "bench/impact"
EVENTS_PER_CHANGE = 3.66
"""About what one change brings with the ratios below (merge, packaging, staging and production
deployments, its share of redeployments, rollbacks and incidents): sizes the history."""
PRODUCTION_SHARE = 0.88  # of the packaged artifacts reach production
STAGING_SHARE = 0.6  # go through staging first
UPGRADE_SHARE = 0.3  # production deployments sent as `service.upgraded`
REDEPLOY_SHARE = 0.05  # artifacts deployed to production a second time
FAILURE_SHARE = 0.09  # production deployments followed by an incident or a rollback
ROLLBACK_SHARE = 0.3  # of the failures: a rollback (the others: an incident)
UNMERGED_SHARE = 0.02  # changes whose merge event never arrives
SESSIONS_PER_WEEK = 2


@dataclass(frozen=True)
class ImpactSizes:
    teams: int = 50
    months: int = 12
    events: int = 200_000  # CI/CD events, about
    requests: int = 200  # per endpoint (the association: a tenth)
    budget_s: float = 20.0  # per endpoint
    batch: int = 250  # events per POST /ingest
    seed: int = 24

    @classmethod
    def from_env(cls) -> "ImpactSizes":
        return sizes_from_env(cls(), "BENCH_IMPACT_")

    @classmethod
    def quick(cls) -> "ImpactSizes":
        return cls(teams=10, events=6_000, requests=40, budget_s=5.0, batch=100)


@dataclass(eq=False)  # teams are told apart by identity
class Team:
    name: str
    production: str  # what its pipelines call production (`production` or `prod`)
    services: list[str]
    members: list[str]
    attendance: float  # how likely a member is to attend a session


@dataclass
class History:
    """The organisation's year: the CI/CD facts in time order, the community events, owners, and
    what each team's figures must count."""

    sizes: ImpactSizes
    end: datetime  # the first moment after the history (the current month's start)
    run: str
    teams: list[Team] = field(default_factory=list)
    facts: list[CicdFact] = field(default_factory=list)
    community: Facts = field(init=False)
    deployments: Counter[tuple[str, str]] = field(default_factory=Counter)  # (team, month)
    deployment_days: dict[tuple[str, str], set[date]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.sizes.seed)
        self._running: dict[str, str] = {}  # service -> the artifact last deployed
        self.start = month_start(self.end.year, self.end.month - self.sizes.months)
        self.community = Facts(SOURCE, f"imp-{self.run}")
        self._organisation()
        weights: dict[tuple[Team, str], float] = {}
        for team in self.teams:
            busy = self.rng.lognormvariate(0, 0.6)  # some teams ship far more than others
            for service in team.services:
                weights[team, service] = busy * self.rng.uniform(0.5, 1.5)
        changes = self.sizes.events / EVENTS_PER_CHANGE
        total = sum(weights.values())
        serial = 0
        for (team, service), weight in weights.items():
            for _ in range(max(1, round(changes * weight / total))):
                serial += 1
                self._change(team, service, serial)
        self.facts = sorted((f for f in self.facts if f.at < self.end), key=lambda f: f.at)
        self._count_deployments()
        self._sessions()

    @property
    def owners(self) -> dict[str, str]:
        return {s: t.name for t in self.teams for s in t.services}

    @property
    def months(self) -> list[str]:
        last = self.end - timedelta(microseconds=1)
        return [key for key, _, _ in periods_between(self.start, last, month_of)]

    @property
    def quarters(self) -> list[str]:
        """The quarters the history holds whole."""
        last = self.end - timedelta(microseconds=1)
        return [
            key
            for key, start, end in periods_between(self.start, last, quarter_of)
            if start >= self.start and end <= self.end
        ]

    def _organisation(self) -> None:
        rng = self.rng
        for t in range(self.sizes.teams):
            name = f"team-{t:02d}"
            services = [f"service/t{t:02d}-{part}" for part in _parts(rng)]
            members = [f"m-{t:02d}-{i:02d}-{self.run}" for i in range(rng.randint(4, 12))]
            production = "prod" if rng.random() < 0.2 else "production"
            self.teams.append(Team(name, production, services, members, rng.uniform(0.01, 0.15)))
        joined = self.start - timedelta(days=1)
        for team in self.teams:
            for member in team.members:
                profile = MemberProfileUpdated(
                    member_id=member, name=member, email=f"{member}@example.com", team=team.name
                )
                self.community.add(joined, profile)

    def _working_time(self) -> datetime:
        """A moment in the history, mostly on weekdays between 08:00 and 19:00 UTC."""
        days = (self.end - self.start).days
        day = self.start + timedelta(days=self.rng.randrange(days))
        if day.weekday() >= 5 and self.rng.random() < 0.85:
            day -= timedelta(days=day.weekday() - 4)  # moved to the Friday before
        return day + timedelta(hours=self.rng.uniform(8, 19))

    def _later(self, at: datetime, median_minutes: float) -> datetime:
        return at + timedelta(minutes=self.rng.lognormvariate(0, 0.8) * median_minutes)

    def _change(self, team: Team, service: str, serial: int) -> None:
        rng, add = self.rng, self.facts.append
        repository = service.removeprefix("service/")
        change = f"github.com/acme/{repository}/pull/{serial}"
        artifact = f"pkg:oci/{repository}@sha256:{rng.getrandbits(64):016x}"
        merged = self._working_time()
        if rng.random() >= UNMERGED_SHARE:
            add(CicdFact("merged", merged, change))
        packaged = self._later(merged, 12)
        add(CicdFact("packaged", packaged, artifact, change=change))
        at = packaged
        if rng.random() < STAGING_SHARE:
            at = self._later(packaged, 20)
            add(CicdFact("deployed", at, service, "staging", artifact))
        if rng.random() >= PRODUCTION_SHARE:
            return
        deployed = self._later(at, 240)
        kind = "upgraded" if rng.random() < UPGRADE_SHARE else "deployed"
        add(CicdFact(kind, deployed, service, team.production, artifact))
        if rng.random() < REDEPLOY_SHARE:
            again = deployed + timedelta(days=rng.uniform(1, 10))
            add(CicdFact("deployed", again, service, team.production, artifact))
        previous = self._running.get(service, artifact)
        self._running[service] = artifact
        if rng.random() < FAILURE_SHARE:
            self._failure(team, service, (artifact, previous), deployed, serial)

    def _failure(
        self,
        team: Team,
        service: str,
        artifacts: tuple[str, str],  # the one deployed, the one before it
        deployed: datetime,
        serial: int,
    ) -> None:
        rng, add = self.rng, self.facts.append
        artifact, previous = artifacts
        if rng.random() < ROLLBACK_SHARE:
            back = self._later(deployed, 30)
            add(CicdFact("rolledback", back, service, team.production, previous))
            return
        incident = f"INC-{self.run}-{serial}"
        detected = self._later(deployed, 90)
        named = rng.random()  # 40 % name the artifact, 55 % only the service, 5 % neither
        add(
            CicdFact(
                "detected",
                detected,
                incident,
                team.production,
                artifact if named < 0.4 else None,
                service=service if named < 0.95 else None,
            )
        )
        if rng.random() < 0.95:
            add(CicdFact("resolved", self._later(detected, 120), incident, team.production))

    def _count_deployments(self) -> None:
        owners = self.owners
        for fact in self.facts:
            if fact.kind in ("deployed", "upgraded") and fact.environment in ("production", "prod"):
                key = (owners[fact.subject], month_of(fact.at)[0])
                self.deployments[key] += 1
                self.deployment_days.setdefault(key, set()).add(fact.at.date())

    def _sessions(self) -> None:
        """Sessions held each week, attended by members of every team, some keener than others."""
        week, n = self.start, 0
        while week < self.end:
            for _ in range(SESSIONS_PER_WEEK):
                n += 1
                held = week + timedelta(days=self.rng.randrange(5), hours=self.rng.uniform(9, 17))
                if held >= self.end:
                    continue
                attendees = [
                    m for t in self.teams for m in t.members if self.rng.random() < t.attendance
                ]
                if not attendees:
                    continue
                session = SessionHeld(
                    session_id=f"s-{n}-{self.run}",
                    community_id=f"c-{n % 5}-{self.run}",
                    held_at=held,
                    duration_minutes=60,
                    format=SessionFormat.LIGHTNING_TALKS,
                    title=f"Session {n}",
                    facilitator_id=attendees[0],
                    attendee_ids=attendees,
                )
                self.community.add(held, session)
            week += timedelta(days=7)


def _parts(rng: random.Random) -> list[str]:
    parts = ["api", "worker", "web", "db-migrator", "gateway"]
    return parts[: rng.randint(2, 5)]
