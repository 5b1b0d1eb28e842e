"""Knowledge: the projection's rate and the latency of search, artifacts and related artifacts.

    python -m bench.knowledge_search [--artifacts 10000] [--queries 300] [--requests 200]
                                     [--budget-s 45] [--related-budget-s 20] [--seed 11]
                                     [--profile]

`make bench` runs it too, with the sizes from `BENCH_SEARCH_ARTIFACTS`, `BENCH_SEARCH_QUERIES`,
`BENCH_SEARCH_REQUESTS`, `BENCH_SEARCH_BUDGET_S`, `BENCH_SEARCH_RELATED_BUDGET_S` and
`BENCH_SEARCH_SEED` (`--skip-search` leaves it out); run alone it writes
`bench-results/knowledge_search.json` and `.md`. A quick try: `--artifacts 500`.

1. A seeded generator writes a library: `artifacts` publications of every kind in 5-10
   communities, each with a title, a summary and a Markdown body of a few hundred words drawn
   from an engineering vocabulary (patterns, retrospectives, incident reviews, testing,
   deployment, observability, onboarding, ...) with Zipf-like word frequencies and a tail of rare
   words (system code names, ticket numbers), tags, authors and some links; about 10 % more
   events revise an artifact (a new body, sometimes new tags or title) and about 2 % retire one,
   half of them with a successor. Every event carries the time of its fact, over two years.
2. All of it is produced to the bench's own knowledge topic before the service starts; then the
   knowledge app runs in this process with its own consumer group and database. Its projection
   is caught up when the group's lag over the topics it reads is 0; its rate is events / seconds
   from the app's start, and also over stretches of the committed offsets (10-90 %, and early
   and late ones, to show how it slows as the index grows).
3. `GET /search` is timed over `queries` queries of 1-3 words (common, rare and mixed words, some
   with a kind, tag or community filter, pages 1 and 3), stopping early when `budget_s` runs out;
   then `GET /artifacts/{id}?format=html` and `GET /artifacts/{id}/related` over `requests`
   artifacts each, each stopping after `related_budget_s`. The answers are checked on the way:
   filters hold, pages do not overlap, an artifact's exact title finds it in the top 3 (the hit
   rate), retired artifacts leave the default search, and a revision's new words find it while
   its old ones do not. The index size comes from `collstats` (counted where it is missing).
4. Last, a few single revisions are produced one at a time, and a search is timed as soon as the
   projection shows each (the first read after a write, when any cache of the index is stale).
   The time the process spends in Python's garbage collector meanwhile is reported too.
"""

import argparse
import asyncio
import bisect
import cProfile
import gc
import io
import itertools
import json
import logging
import os
import platform
import pstats
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from bench.harness import BenchInfra, delete_topics, mongo_server, provide_infra, serving
from bench.recognition_health import produce
from services.knowledge.settings import KnowledgeSettings
from shared.events.catalog import (
    ArtifactKind,
    ArtifactPublished,
    ArtifactRetired,
    ArtifactRevised,
    CaseStudy,
    DecisionRecord,
    DecisionStatus,
)
from shared.events.envelope import CloudEvent, new_event
from shared.lag import GroupLag

OUT = Path(__file__).resolve().parent.parent / "bench-results"
SOURCE = "bench/knowledge-search"
HISTORY_DAYS = 730
TITLE_PROBES = 40
RETIRED_PROBES = 10
REVISION_PROBES = 15
PAGING_PROBES = 5
REQUEST_TIMEOUT_S = 120.0
AFTER_WRITE_PROBES = 8


@dataclass(frozen=True)
class SearchSizes:
    artifacts: int = 10_000
    queries: int = 300
    requests: int = 200  # per artifact endpoint
    budget_s: float = 45.0  # for the timed searches
    related_budget_s: float = 20.0  # for each artifact endpoint
    seed: int = 11

    @classmethod
    def from_env(cls) -> "SearchSizes":
        env = os.environ
        return cls(
            artifacts=int(env.get("BENCH_SEARCH_ARTIFACTS", cls.artifacts)),
            queries=int(env.get("BENCH_SEARCH_QUERIES", cls.queries)),
            requests=int(env.get("BENCH_SEARCH_REQUESTS", cls.requests)),
            budget_s=float(env.get("BENCH_SEARCH_BUDGET_S", cls.budget_s)),
            related_budget_s=float(env.get("BENCH_SEARCH_RELATED_BUDGET_S", cls.related_budget_s)),
            seed=int(env.get("BENCH_SEARCH_SEED", cls.seed)),
        )


# --- the vocabulary: per topic its words (most frequent first), tags and a title phrase ---


@dataclass(frozen=True)
class Topic:
    name: str
    tags: tuple[str, ...]
    words: tuple[str, ...]


def _topic(name: str, tags: str, words: str) -> Topic:
    return Topic(name, tuple(tags.split()), tuple(words.split()))


def _words(text: str) -> list[str]:
    return text.split()


TOPICS = (
    _topic(
        "Design patterns",
        "patterns architecture domain-driven-design",
        """pattern patterns adapter facade strategy observer repository aggregate bounded context
        domain event sourcing saga outbox idempotency retry circuit breaker bulkhead backpressure
        cache invalidation anticorruption layer hexagonal ports command query segregation
        projection consistency eventual coupling cohesion module interface injection composition
        inheritance specification factory decorator memento visitor""",
    ),
    _topic(
        "Retrospectives",
        "retrospectives agile facilitation continuous-improvement",
        """retrospective retrospectives sprint action items facilitator facilitation blameless
        improvement kaizen starfish timeline lessons learned safety psychological dot voting
        format cadence mood appreciation experiment outcome followup iteration velocity
        commitment reflection energy sailboat anchors""",
    ),
    _topic(
        "Incident reviews",
        "incident-review postmortem reliability incident-response",
        """incident incidents outage postmortem severity pager timeline mitigation root cause
        contributing factors detection escalation customer impact status rollback hotfix
        degraded availability error budget responder commander communication remediation
        recurrence sev1 sev2 blast radius failover""",
    ),
    _topic(
        "Testing",
        "testing quality test-automation",
        """test tests testing unit integration contract coverage mutation flaky fixture fixtures
        mock mocks stub property regression suite assertion snapshot harness parametrize tdd
        boundary golden fuzzing testcontainers pytest quarantine determinism hypothesis
        oracle""",
    ),
    _topic(
        "Deployment",
        "deployment continuous-delivery release-engineering kubernetes",
        """deployment deploy deploys release releases canary blue green rollout rollback feature
        flag flags pipeline container image kubernetes helm manifest staging production
        environment promotion gate approval versioning migration downtime progressive argo
        bake""",
    ),
    _topic(
        "Observability",
        "observability monitoring slo opentelemetry",
        """observability metrics logs traces tracing span spans opentelemetry dashboard
        dashboards alert alerting slo sli latency percentile throughput saturation cardinality
        sampling exemplar prometheus grafana histogram correlation structured logging signal
        noise anomaly baseline""",
    ),
    _topic(
        "Onboarding",
        "onboarding mentoring team-practices",
        """onboarding newcomer newcomers mentor mentoring buddy checklist access laptop setup
        glossary overview shadowing pairing ramp welcome orientation codebase tour expectations
        handbook culture rituals introductions milestones curriculum starter""",
    ),
    _topic(
        "Code review",
        "code-review collaboration git",
        """review reviews reviewer reviewers pull request approval comment comments nit diff merge
        branch trunk conflict style linting formatter readability maintainability codeowners
        turnaround batches suggestion rebase squash commit commits stacked""",
    ),
    _topic(
        "Security",
        "security appsec supply-chain",
        """security threat vulnerability vulnerabilities cve patch secrets rotation vault
        authentication authorization oauth token tokens encryption tls certificate certificates
        privilege audit compliance penetration scanning supply chain sbom sast injection xss csrf
        sandbox""",
    ),
    _topic(
        "Performance",
        "performance profiling capacity-planning",
        """performance latency throughput profiling profiler flame graph benchmark benchmarks
        allocation garbage collection memory leak cpu hotspot index cache hit ratio contention
        lock thread pool async batching p99 tail load capacity headroom jit""",
    ),
    _topic(
        "Data pipelines",
        "data data-engineering streaming",
        """data pipeline pipelines schema warehouse lake etl batch streaming kafka topic partition
        consumer offset lag replay backfill quality lineage catalog governance parquet spark dbt
        freshness ingestion transformation retention privacy gdpr watermark""",
    ),
    _topic(
        "Architecture",
        "architecture microservices api-design",
        """architecture service services microservice microservices monolith boundary api
        gateway contract versioning synchronous asynchronous messaging queue broker driven
        scalability resilience decision tradeoff tradeoffs modular layering platform topology
        diagram fitness""",
    ),
    _topic(
        "On-call",
        "on-call sre operations",
        """oncall rotation rotations pager handover escalation alert fatigue toil runbook runbooks
        shift weekend triage acknowledge noise paging policy burnout schedule primary secondary
        override quiet hours wellbeing drill gameday chaos""",
    ),
    _topic(
        "Documentation",
        "documentation technical-writing docs-as-code",
        """documentation docs readme diagram diagrams wiki adr decision record template style
        guide audience tutorial howto reference explanation diataxis freshness owner navigation
        examples changelog docstring markdown site publishing glossary""",
    ),
)
GENERAL = _words(
    """team teams service system change process problem approach practice practices work
    time week month quarter people users customers product engineering engineers platform tooling
    tool workflow example step steps issue goal result results risk risks cost effort plan owner
    ownership knowledge community sharing learning guild session meeting discussion question idea
    experience standard standards quality speed reliability simple complex manual automated
    automation shared common clear early late better first next last new legacy modern default
    explicit budget backlog roadmap stakeholder stakeholders priority priorities scope estimate
    dependency dependencies version configuration environment cluster region database api client
    server request response job queue worker script repository branch library framework feedback
    signal trend baseline target threshold window incident release deploy test review metric"""
)
VERBS = _words(
    """use used make build built run running add added remove removed reduce reduced improve
    improved fix fixed ship shipped measure measured track tracked agree agreed decide decided learn
    document documented automate avoid avoided keep start started stop stopped move moved split
    merged check verify monitor rotate replace introduce introduced adopt adopted migrate migrated
    scale scaled share shared write wrote pair paired plan planned"""
)
FUNCTION = _words(
    """the the the a a to to of of and and in in we it is for that on with this was as be
    are by our when so not but from at have which each all they more can should after before then
    into"""
)
SYSTEMS = _words(
    """ledger checkout gateway billing search catalog payments inventory identity
    notifications scheduler warehouse importer exporter router frontend backend mobile app portal
    console api worker"""
)
SYLLABLES = _words(
    """ka zu mor vel tri quo nax lin dor sep ryn ost fal gri bel tor xi wen jas pol ami
    cor dex eth fin hal ivo jun kel lum"""
)
COMMUNITIES = _words(
    """platform-guild testing-cop sre-circle frontend-guild data-cop security-champions
    architecture-forum mobile-guild devex-cop qa-cop"""
)
GENERAL_TAGS = _words(
    """how-to team-practices lessons-learned platform backend frontend mobile
    beginner advanced"""
)
KIND_WEIGHTS = {
    ArtifactKind.PATTERN: 14,
    ArtifactKind.DECISION_LOG: 12,
    ArtifactKind.TEMPLATE: 8,
    ArtifactKind.PLAYBOOK: 12,
    ArtifactKind.CHECKLIST: 9,
    ArtifactKind.CASE_STUDY: 10,
    ArtifactKind.BIBLIOGRAPHY: 6,
    ArtifactKind.MINUTES: 11,
    ArtifactKind.GUIDE: 18,
}
SECTIONS = {
    ArtifactKind.PATTERN: ("Context", "Problem", "Solution", "Consequences"),
    ArtifactKind.DECISION_LOG: ("Context", "Options considered", "Decision", "Consequences"),
    ArtifactKind.TEMPLATE: ("Purpose", "How to use it", "Template", "Example"),
    ArtifactKind.PLAYBOOK: ("When to use", "Steps", "Escalation", "Rollback"),
    ArtifactKind.CHECKLIST: ("Before", "During", "After"),
    ArtifactKind.CASE_STUDY: ("Background", "What we did", "What worked", "What failed"),
    ArtifactKind.BIBLIOGRAPHY: ("Why read it", "Key ideas", "Discussion"),
    ArtifactKind.MINUTES: ("Attendees and agenda", "Discussion", "Decisions", "Action items"),
    ArtifactKind.GUIDE: ("Overview", "Getting started", "Details", "Troubleshooting", "Links"),
}
TICKET_PROJECTS = ("OPS", "PLAT", "INC", "QA", "SEC", "DATA", "WEB")


class Zipf:
    """Words drawn with probability ∝ 1 / rank^s, the first the most frequent."""

    def __init__(self, words: Sequence[str], s: float = 1.05) -> None:
        self.words = list(words)
        self._cum = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(len(self.words))))

    def draw(self, rng: random.Random, k: int = 1) -> list[str]:
        return rng.choices(self.words, cum_weights=self._cum, k=k)

    def one(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self._cum, rng.random() * self._cum[-1])]


def _code_names(rng: random.Random, n: int) -> list[str]:
    found: set[str] = set()
    while len(found) < n:
        found.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3)))))
    names = sorted(found)
    rng.shuffle(names)
    return names


# --- the library ---


@dataclass
class Artifact:
    artifact_id: str
    community_id: str
    kind: ArtifactKind
    topic: int
    title: str
    at: datetime
    tags: list[str]
    authors: list[str]
    ticket: str  # a ticket number only its first version's body names
    version: int = 1
    retired: bool = False
    new_ticket: str | None = None  # the one its last revision names instead


class Library:
    """The seeded artifacts and their events, and what a search should find."""

    def __init__(self, n: int, seed: int, run: str) -> None:
        self.rng = rng = random.Random(seed)
        self.run = run
        self.end = datetime.now(UTC).replace(microsecond=0)
        self.start = self.end - timedelta(days=HISTORY_DAYS)
        self.code_names = Zipf(_code_names(rng, max(300, n // 5)), s=0.9)
        self.topic_words = [Zipf(t.words) for t in TOPICS]
        self.general, self.verbs = Zipf(GENERAL), Zipf(VERBS)
        self.function = Zipf(FUNCTION, s=0.6)
        count = rng.randint(5, 10)
        self.communities = [f"{c}-{run}" for c in COMMUNITIES[:count]]
        # each community favours a few topics; sizes Zipf-like
        self.favourites = [rng.sample(range(len(TOPICS)), 3) for _ in self.communities]
        self.community_cum = list(
            itertools.accumulate(1 / (i + 1) ** 0.7 for i in range(len(self.communities)))
        )
        members = max(20, n // 20)
        self.members = Zipf([f"member-{i:04d}-{run}" for i in range(members)], s=0.8)
        self.tickets = iter(rng.sample(range(100_000, 1_000_000), 2 * n + 10))
        self.artifacts: list[Artifact] = []
        self.df: Counter[str] = Counter()  # in how many first versions a word appears
        self._facts: list[tuple[datetime, int, BaseModel]] = []
        self.revisions = self.retirements = 0
        span = HISTORY_DAYS * 86400 - 1
        times = sorted(self.start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
        for i, at in enumerate(times):
            self._publish(i, at)
        for artifact in self.artifacts:
            self._later(artifact)

    # facts

    def _add(self, at: datetime, data: BaseModel) -> None:
        self._facts.append((at, len(self._facts), data))

    def events(self) -> list[CloudEvent]:
        return [
            new_event(data, source=SOURCE, time=at, event_id=f"{self.run}-{seq:06d}")
            for at, seq, data in sorted(self._facts, key=lambda f: (f[0], f[1]))
        ]

    # text

    def _sentence(self, topic: int, second: int, words: int) -> str:
        rng = self.rng
        out = []
        for source in rng.choices(range(7), (30, 30, 8, 15, 9, 3, 5), k=words):
            if source == 0:
                out.append(self.function.one(rng))
            elif source == 1:
                out.append(self.topic_words[topic].one(rng))
            elif source == 2:
                out.append(self.topic_words[second].one(rng))
            elif source == 3:
                out.append(self.general.one(rng))
            elif source == 4:
                out.append(self.verbs.one(rng))
            elif source == 5:
                out.append(self.code_names.one(rng))
            else:
                out.append(str(rng.choice((2, 3, 5, 10, 15, 30, 50, 90, 99, 200, 500))))
        text = " ".join(out)
        return text[0].upper() + text[1:] + "."

    def _paragraph(self, topic: int, second: int, words: int) -> str:
        sentences, left = [], words
        while left > 0:
            k = min(left, self.rng.randint(8, 20))
            sentences.append(self._sentence(topic, second, k))
            left -= k
        return " ".join(sentences)

    def _bullets(self, topic: int, second: int, items: int, checkbox: bool = False) -> str:
        mark = "- [ ] " if checkbox else "- "
        return "\n".join(
            mark + self._sentence(topic, second, self.rng.randint(4, 10)) for _ in range(items)
        )

    def _body(self, a: Artifact, second: int, ticket: str, words: int) -> str:
        rng, topic = self.rng, a.topic
        sections = SECTIONS[a.kind]
        per = max(30, words // len(sections))
        parts = [f"# {a.title}", ""]
        for i, heading in enumerate(sections):
            parts += [f"## {heading}", ""]
            checklist = a.kind == ArtifactKind.CHECKLIST
            if checklist or (i == 1 and rng.random() < 0.5):
                parts.append(self._bullets(topic, second, max(3, per // 8), checklist))
            else:
                parts.append(self._paragraph(topic, second, per))
            parts.append("")
            if i == 1 and rng.random() < 0.3:
                command = rng.choice(
                    (
                        "kubectl rollout undo deployment/{s}",
                        "pytest -k {s} --maxfail=1",
                        "helm upgrade {s} ./chart --atomic",
                        "curl -s http://{s}.internal/metrics | grep latency",
                    )
                )
                parts += ["```sh", command.format(s=self.code_names.one(rng)), "```", ""]
        parts.append(
            f"Tracked in [{ticket}](https://tracker.example.com/browse/{ticket}); see the "
            f"[{self.code_names.one(rng)} runbook](https://wiki.example.com/{a.community_id})."
        )
        return "\n".join(parts)

    def _title(self, kind: ArtifactKind, topic: int, index: int) -> str:
        rng, words = self.rng, TOPICS[topic].words
        w1, w2 = rng.sample(words, 2)
        name = self.code_names.words[rng.randrange(len(self.code_names.words))]
        system = rng.choice(SYSTEMS)
        phrase = TOPICS[topic].name
        return {
            ArtifactKind.PATTERN: f"{w1.capitalize()} {w2} pattern for the {name} {system}",
            ArtifactKind.DECISION_LOG: f"ADR-{index:04d}: adopt {w1} {w2} in {name} {system}",
            ArtifactKind.TEMPLATE: f"{phrase} template: {w1} and {w2} ({name})",
            ArtifactKind.PLAYBOOK: f"Playbook: {w1} {w2} for {name} {system}",
            ArtifactKind.CHECKLIST: f"{phrase} checklist: {w1}, {w2} and the {name} {system}",
            ArtifactKind.CASE_STUDY: f"Case study: {w1} {w2} at {name} {system}",
            ArtifactKind.BIBLIOGRAPHY: f"Reading notes: {w1} and {w2} ({name} edition)",
            ArtifactKind.MINUTES: f"{phrase} session on {w1} {w2}: {name} {system}",
            ArtifactKind.GUIDE: f"Guide to {w1} {w2} in {name} {system}",
        }[kind]

    def _publish(self, i: int, at: datetime) -> None:
        rng = self.rng
        c = bisect.bisect(self.community_cum, rng.random() * self.community_cum[-1])
        favourite = rng.random() < 0.7
        topic = rng.choice(self.favourites[c]) if favourite else rng.randrange(len(TOPICS))
        second = rng.randrange(len(TOPICS))
        kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
        tags = rng.sample(TOPICS[topic].tags, rng.randint(1, 2))
        if rng.random() < 0.4:
            tags.append(rng.choice(TOPICS[second].tags))
        if rng.random() < 0.5:
            tags.append(rng.choice(GENERAL_TAGS))
        authors = list(dict.fromkeys(self.members.draw(rng, rng.choice((1, 1, 1, 2, 2, 3)))))
        ticket = f"{rng.choice(TICKET_PROJECTS)}-{next(self.tickets)}"
        a = Artifact(
            f"art-{self.run}-{i:05d}",
            self.communities[c],
            kind,
            topic,
            self._title(kind, topic, i),
            at,
            list(dict.fromkeys(tags)),
            authors,
            ticket,
        )
        words = min(700, max(120, round(rng.lognormvariate(5.6, 0.35))))
        summary = self._paragraph(topic, second, rng.randint(20, 45))[:1000]
        body: str | None = self._body(a, second, ticket, words)
        url = None
        if (kind == ArtifactKind.BIBLIOGRAPHY and rng.random() < 0.7) or rng.random() < 0.02:
            url, body = f"https://library.example.org/{a.artifact_id}", None
        earlier = [x for x in self.artifacts[-200:] if x.community_id == a.community_id]
        related = [x.artifact_id for x in rng.sample(earlier, min(len(earlier), 2))]
        decision = case = None
        if kind == ArtifactKind.DECISION_LOG:
            decision = DecisionRecord(
                context=self._sentence(topic, second, 15),
                decision=self._sentence(topic, second, 12),
                consequences=self._sentence(topic, second, 15),
                status=rng.choice(list(DecisionStatus)),
            )
        elif kind == ArtifactKind.CASE_STUDY:
            case = CaseStudy(
                what_worked=self._sentence(topic, second, 15),
                what_failed=self._sentence(topic, second, 12),
                why=self._sentence(topic, second, 12),
            )
        self._add(
            at,
            ArtifactPublished(
                artifact_id=a.artifact_id,
                community_id=a.community_id,
                kind=kind,
                title=a.title,
                summary=summary,
                body_markdown=body,
                url=url,
                author_ids=authors,
                tags=a.tags,
                related_artifact_ids=related if rng.random() < 0.15 else [],
                decision=decision,
                case_study=case,
            ),
        )
        text = f"{a.title} {summary} {body or ''}"
        self.df.update({w.strip(".,:;()[]").lower() for w in text.split()})
        self.artifacts.append(a)

    def _later(self, a: Artifact) -> None:
        """Its revisions (about one artifact in ten, a fifth of them twice) and retirement."""
        rng, at = self.rng, a.at
        revisions = 0 if rng.random() >= 0.095 else (2 if rng.random() < 0.2 else 1)
        for _ in range(revisions):
            at += timedelta(days=rng.uniform(1, 150))
            if at >= self.end:
                break
            a.version += 1
            a.new_ticket = f"{rng.choice(TICKET_PROJECTS)}-{next(self.tickets)}"
            second = rng.randrange(len(TOPICS))
            changes: dict[str, Any] = {
                "body_markdown": self._body(a, second, a.new_ticket, rng.randint(150, 450))
            }
            if rng.random() < 0.2:
                a.tags = list(dict.fromkeys([*a.tags, rng.choice(GENERAL_TAGS)]))
                changes["tags"] = a.tags
            if rng.random() < 0.1:
                a.title = f"{a.title} (revised {at.year})"[:200]
                changes["title"] = a.title
            editor = rng.choice(a.authors) if rng.random() < 0.7 else self.members.one(rng)
            self._add(
                at,
                ArtifactRevised(
                    artifact_id=a.artifact_id,
                    community_id=a.community_id,
                    version=a.version,
                    editor_id=editor,
                    change_note=f"Updated after the {self.code_names.one(rng)} review",
                    **changes,
                ),
            )
            self.revisions += 1
        if rng.random() < 0.02:
            at += timedelta(days=rng.uniform(5, 200))
            if at >= self.end:
                return
            successor = rng.choice(self.artifacts)
            self._add(
                at,
                ArtifactRetired(
                    artifact_id=a.artifact_id,
                    community_id=a.community_id,
                    version=a.version,
                    editor_id=a.authors[0],
                    reason=f"Out of date since the {self.code_names.one(rng)} migration",
                    superseded_by=successor.artifact_id
                    if rng.random() < 0.5 and successor is not a
                    else None,
                ),
            )
            a.retired = True
            self.retirements += 1

    def revision_now(self, a: Artifact) -> CloudEvent:
        """A revision of `a` made now (a new summary): the projection writes one small batch."""
        a.version += 1
        data = ArtifactRevised(
            artifact_id=a.artifact_id,
            community_id=a.community_id,
            version=a.version,
            editor_id=a.authors[0],
            change_note="Summary tightened",
            summary=self._paragraph(a.topic, a.topic, 25)[:1000],
        )
        return new_event(
            data, source=SOURCE, event_id=f"{self.run}-now-{a.artifact_id}-{a.version}"
        )

    # what to ask

    def common_words(self, k: int = 40) -> list[str]:
        content = {w for t in TOPICS for w in t.words} | set(GENERAL) | set(VERBS)
        return [w for w, _ in self.df.most_common() if w in content][:k]

    def rare_words(self, k: int = 200) -> list[str]:
        """Words of a handful of artifacts: code names and the rarest topic words."""
        rare = [w for w, n in self.df.items() if 1 <= n <= 12 and w.isalpha() and len(w) > 3]
        rare.sort()
        self.rng.shuffle(rare)
        return rare[:k]


# --- catching up ---


@dataclass
class CatchUp:
    seconds: float
    overall: float
    steady: float  # over 10-90 % of the events
    early: float  # over 10-30 %
    late: float  # over 70-90 %
    first_commit_s: float


async def caught_up(lag: GroupLag, total: int, began: float, timeout_s: float) -> CatchUp:
    """Polls the group's lag four times a second until it is 0."""
    samples: list[tuple[float, int]] = []
    first_commit = 0.0
    while True:
        behind = await lag.records_behind()
        now = time.perf_counter()
        samples.append((now, total - behind))
        if behind < total and not first_commit:
            first_commit = now - began
        if behind == 0:
            break
        if now - began > timeout_s:
            raise TimeoutError(f"not caught up after {timeout_s:.0f}s: {behind:,} records behind")
        await asyncio.sleep(0.25)

    def rate(low: float, high: float) -> float:
        a = next(s for s in samples if s[1] >= low * total)
        b = next(s for s in samples if s[1] >= high * total)
        return (b[1] - a[1]) / (b[0] - a[0]) if b[0] > a[0] else 0.0

    seconds = samples[-1][0] - began
    return CatchUp(
        seconds,
        total / seconds,
        rate(0.1, 0.9),
        rate(0.1, 0.3),
        rate(0.7, 0.9),
        first_commit,
    )


# --- asking the service ---


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)

    def percentile(self, p: int) -> float:
        ms = [s * 1000 for s in self.samples]
        if len(ms) < 2:
            return ms[0] if ms else 0.0
        return statistics.quantiles(ms, n=100, method="inclusive")[p - 1]

    def row(self) -> str:
        if not self.samples:
            return "no requests"
        p50, p95, p99 = (self.percentile(p) for p in (50, 95, 99))
        return f"{p50:.1f} / {p95:.1f} / {p99:.1f} ({len(self.samples)})"


async def get(client: httpx.AsyncClient, path: str, latency: Latency | None = None) -> Any:
    began = time.perf_counter()
    response = await client.get(path, timeout=REQUEST_TIMEOUT_S)
    if latency is not None:
        latency.samples.append(time.perf_counter() - began)
    if response.status_code != 200:
        raise AssertionError(f"GET {path}: {response.status_code} {response.text[:500]}")
    return response.json()


def search_path(q: str, **params: Any) -> str:
    return "/search?" + urlencode({"q": q, **{k: v for k, v in params.items() if v is not None}})


@dataclass(frozen=True)
class Query:
    kind: str  # common, rare, mixed
    q: str
    filters: dict[str, str]
    page: int

    @property
    def labels(self) -> list[str]:
        found = [f"{self.kind} words", f"page {self.page}"]
        return [*found, f"with a {next(iter(self.filters))} filter"] if self.filters else found


def queries(library: Library, n: int, rng: random.Random) -> list[Query]:
    """1-3 words: common, rare or mixed; two in five with a filter; one in three on page 3."""
    common, rare = library.common_words(), library.rare_words()
    kinds = [k.value for k in KIND_WEIGHTS if k != ArtifactKind.BIBLIOGRAPHY]
    tags = sorted({t for topic in TOPICS for t in topic.tags})
    found = []
    for _ in range(n):
        shape = rng.choice(("common", "common", "rare", "mixed", "mixed"))
        if shape == "common" or not rare:
            words = rng.sample(common, rng.choice((1, 2, 2, 3)))
        elif shape == "rare":
            words = rng.sample(rare, rng.choice((1, 1, 2)))
        else:
            words = [*rng.sample(common, rng.choice((1, 2))), rng.choice(rare)]
        filters: dict[str, str] = {}
        if rng.random() < 0.4:
            which = rng.choice(("kind", "tag", "community"))
            filters[which] = rng.choice(
                {"kind": kinds, "tag": tags, "community": library.communities}[which]
            )
        found.append(Query(shape, " ".join(words), filters, 3 if rng.random() < 1 / 3 else 1))
    return found


class Checks:
    def __init__(self) -> None:
        self.compared = 0
        self.wrong: list[str] = []

    def that(self, ok: bool, what: str) -> bool:
        self.compared += 1
        if not ok:
            self.wrong.append(what)
        return ok


def admits(item: dict[str, Any], filters: dict[str, str]) -> bool:
    for name, value in filters.items():
        if name == "kind" and item.get("kind") != value:
            return False
        if name == "tag" and value not in item.get("tags", []):
            return False
        if name == "community" and item.get("community_id") != value:
            return False
    return True


async def bench_search(
    infra: BenchInfra, sizes: SearchSizes, *, profile: bool = False
) -> dict[str, Any]:
    """Generate, produce, catch up, time and check; one row of results."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request is noise here
    namespace = infra.namespace()
    began = time.perf_counter()
    library = Library(sizes.artifacts, sizes.seed, namespace.removeprefix("bench"))
    events = library.events()
    generated_s = time.perf_counter() - began
    began = time.perf_counter()
    per_topic = await produce(infra, f"{namespace}.", events)
    produced_s = time.perf_counter() - began
    body_words = sum(library.df.values()) / max(1, len(library.artifacts))
    row: dict[str, Any] = {
        "library": f"{len(library.artifacts):,} artifacts in {len(library.communities)} "
        f"communities, {library.revisions:,} revisions, {library.retirements:,} retirements, "
        f"seed {sizes.seed}; {len(library.df):,} distinct words, "
        f"~{body_words:.0f} distinct words per artifact",
        "events produced": f"{len(events):,} ({per_topic.total():,} to the knowledge topic)",
        "generated, produced in s": f"{generated_s:.1f}, {produced_s:.1f}",
    }
    count = len(events)
    del events
    # The generator's objects stay alive in this process, where a service would not hold them:
    # frozen, they do not lengthen the collections that the app's own allocations trigger.
    gc.collect()
    gc.freeze()
    try:
        row.update(await serve_and_measure(infra, namespace, library, count, sizes, profile))
    finally:
        gc.unfreeze()
    return row


async def serve_and_measure(
    infra: BenchInfra,
    namespace: str,
    library: Library,
    count: int,
    sizes: SearchSizes,
    profile: bool,
) -> dict[str, Any]:
    """Start the app on the produced topics, wait until it caught up, then ask it."""
    from services.knowledge.bootstrap import bootstrap
    from services.knowledge.rebuild import TOPICS as READ

    prefix = f"{namespace}."
    settings = infra.settings(KnowledgeSettings, namespace)
    app = bootstrap(settings)
    started = time.perf_counter()
    group = settings.kafka_consumer_group
    lag = GroupLag(infra.kafka_bootstrap_servers, group, [prefix + t for t in READ])
    row: dict[str, Any] = {}
    async with serving(app, settings) as client:
        await lag.start()
        try:
            catch = await caught_up(lag, count, started, timeout_s=max(300.0, count / 20))
            row.update(catchup_rows(catch))
            row.update(await index_size(infra.mongodb_uri, settings.mongodb_database, library))
            with GcClock() as collector:
                row.update(await measure(client, library, sizes))
                row.update(await after_writes(client, infra, prefix, lag, library))
            row["Python GC during the timed requests (app and bench, one process)"] = (
                collector.row()
            )
        finally:
            await lag.stop()
        if profile:
            await profiled(client, library)
    return row


def catchup_rows(catch: CatchUp) -> dict[str, Any]:
    return {
        "caught up in s (from app start; first commit at)": (
            f"{catch.seconds:.1f} ({catch.first_commit_s:.1f})"
        ),
        "projection events/s (events / catch-up time)": round(catch.overall),
        "projection events/s (10-90 % of committed offsets)": round(catch.steady),
        "projection events/s at 10-30 % / 70-90 % (as the index grows)": " / ".join(
            f"{r:.0f}" if r else "n/a (one batch)" for r in (catch.early, catch.late)
        ),
    }


class GcClock:
    """Time the interpreter spends in its cyclic garbage collector while in effect."""

    def __init__(self) -> None:
        self.seconds, self._began = 0.0, 0.0
        self.collections: Counter[int] = Counter()

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.collections[info["generation"]] += 1

    def __enter__(self) -> "GcClock":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def row(self) -> str:
        per = ", ".join(f"gen{g} {n}" for g, n in sorted(self.collections.items()))
        return f"{self.seconds:.2f} s in {self.collections.total()} collections ({per})"


async def after_writes(
    client: httpx.AsyncClient, infra: BenchInfra, prefix: str, lag: GroupLag, library: Library
) -> dict[str, Any]:
    """A search right after each of a few one-event projection batches (a revision), once the
    projection shows it: the first read after a write, when a cache of the index is stale."""
    rng = random.Random(len(library.artifacts))
    alive = [a for a in library.artifacts if not a.retired]
    words = library.common_words()
    latency, warm = Latency(), Latency()
    for a in rng.sample(alive, min(AFTER_WRITE_PROBES, len(alive))):
        await produce(infra, prefix, [library.revision_now(a)])
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if not await lag.records_behind():
                break
            await asyncio.sleep(0.05)
        q = " ".join(rng.sample(words, 2))
        await get(client, search_path(q), latency)
        await get(client, search_path(q), warm)
    return {
        "GET /search right after a projection batch, ms p50 / max (requests)": (
            f"{latency.percentile(50):.1f} / {max(latency.samples, default=0) * 1000:.1f} "
            f"({len(latency.samples)})"
        ),
        "the same search again, ms p50 / max": (
            f"{warm.percentile(50):.1f} / {max(warm.samples, default=0) * 1000:.1f}"
        ),
    }


async def index_size(uri: str, database: str, library: Library) -> dict[str, Any]:
    """Documents and bytes of the index (`collstats`, else counted), and what a search reads."""
    from services.knowledge.adapters.search_index import SHARDS
    from services.knowledge.domain.text import terms

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    db = client[database]
    row: dict[str, Any] = {}
    try:
        for name in ("search_terms", "search_catalog", "artifacts", "artifact_versions"):
            try:
                stats = await db.command("collstats", name)
                size = f"{stats['count']:,} docs, {stats['size'] / 1e6:.1f} MB"
            except Exception:  # a server without collstats: count, and add up the BSON
                count = await db[name].count_documents({})
                raw = 0
                async for batch in db[name].find_raw_batches({}):
                    raw += len(batch)
                size = f"{count:,} docs, {raw / 1e6:.1f} MB (BSON read back)"
            row[f"index size: {name}"] = size
        common = next(t for w in library.common_words() for t in terms(w))
        ids = [f"{common}|{s}" for s in range(SHARDS)]
        catalog = postings = 0
        async for batch in db["search_catalog"].find_raw_batches({}):
            catalog += len(batch)
        async for batch in db["search_terms"].find_raw_batches({"_id": {"$in": ids}}):
            postings += len(batch)
        row["bytes every search reads: catalog; postings of the commonest term"] = (
            f"{catalog / 1e6:.2f} MB; {postings / 1e6:.2f} MB ('{common}')"
        )
    finally:
        await client.close()
    return row


async def measure(
    client: httpx.AsyncClient, library: Library, sizes: SearchSizes
) -> dict[str, Any]:
    rng = random.Random(sizes.seed)
    row: dict[str, Any] = {}
    checks = Checks()
    col = "ms p50 / p95 / p99 (requests)"

    # search: the timed mix
    asked = queries(library, sizes.queries, rng)
    overall, by_label = Latency(), dict[str, Latency]()
    totals: dict[str, list[int]] = {}
    deadline = time.perf_counter() + sizes.budget_s
    for query in asked:
        latency = Latency()
        answer = await get(client, search_path(query.q, **query.filters, page=query.page), latency)
        overall.samples += latency.samples
        for label in query.labels:
            by_label.setdefault(label, Latency()).samples += latency.samples
        totals.setdefault(query.kind, []).append(answer["total"])
        bad = [i["artifact_id"] for i in answer["items"] if not admits(i, query.filters)]
        checks.that(not bad, f"{query}: {len(bad)} items outside the filter")
        checks.that(
            answer["page"] == query.page and len(answer["items"]) <= answer["size"],
            f"{query}: page {answer['page']}, {len(answer['items'])} items",
        )
        if time.perf_counter() > deadline:
            break
    row[f"GET /search, {col}"] = overall.row()
    row["GET /search p95_ms"] = round(overall.percentile(95), 1)
    for label, latency in sorted(by_label.items()):
        row[f"GET /search {label}, {col}"] = latency.row()
    row["search hits per query, median (common / rare / mixed)"] = " / ".join(
        str(round(statistics.median(totals.get(k) or [0]))) for k in ("common", "rare", "mixed")
    )

    # paging: pages 1-3 of a query do not overlap and keep the order of one big page
    for query in asked[:PAGING_PROBES]:
        pages = [
            [i["artifact_id"] for i in (await get(client, search_path(query.q, page=p)))["items"]]
            for p in (1, 2, 3)
        ]
        whole = await get(client, search_path(query.q, size=30))
        flat = [a for page in pages for a in page]
        checks.that(flat == [i["artifact_id"] for i in whole["items"]], f"paging of {query.q}")

    # sanity: an artifact's exact title finds it in the top 3
    alive = [a for a in library.artifacts if not a.retired]
    titles = Counter(a.title for a in library.artifacts)
    unique = [a for a in alive if titles[a.title] == 1]
    probes = rng.sample(unique, min(TITLE_PROBES, len(unique)))
    top1 = top3 = 0
    probe_latency = Latency()
    for a in probes:
        answer = await get(client, search_path(a.title), probe_latency)
        ids = [i["artifact_id"] for i in answer["items"]]
        top1 += ids[:1] == [a.artifact_id]
        top3 += a.artifact_id in ids[:3]
    row[f"GET /search with an artifact's title (3-9 words), {col}"] = probe_latency.row()
    row["title probes: artifact ranked 1st; in top 3 (hit rate)"] = (
        f"{top1} of {len(probes)}; {top3} of {len(probes)} ({top3 / max(1, len(probes)):.0%})"
    )
    checks.that(top3 >= 0.8 * len(probes), f"title hit rate {top3} of {len(probes)}")

    # retired artifacts leave the default search, and stay findable with status=all
    retired = [a for a in library.artifacts if a.retired][:RETIRED_PROBES]
    left_out = found = 0
    for a in retired:
        default = await get(client, search_path(a.title, size=50))
        left_out += a.artifact_id not in {i["artifact_id"] for i in default["items"]}
        every = await get(client, search_path(a.title, status="all", size=50))
        found += a.artifact_id in {i["artifact_id"] for i in every["items"]}
    row["retired: left out of default search; found with status=all"] = (
        f"{left_out} of {len(retired)}; {found} of {len(retired)}"
    )
    checks.that(left_out == found == len(retired), "retired artifacts in search")

    # a revision's new ticket number finds the artifact, the replaced one no longer does
    revised = [a for a in alive if a.new_ticket][:REVISION_PROBES]
    new_hits = old_gone = 0
    for a in revised:
        assert a.new_ticket is not None
        new = await get(client, search_path(a.new_ticket.split("-")[1]))
        new_hits += a.artifact_id in {i["artifact_id"] for i in new["items"]}
        old = await get(client, search_path(a.ticket.split("-")[1]))
        old_gone += a.artifact_id not in {i["artifact_id"] for i in old["items"]}
    row["revisions: new words find it; replaced words no longer do"] = (
        f"{new_hits} of {len(revised)}; {old_gone} of {len(revised)}"
    )
    checks.that(new_hits == old_gone == len(revised), "revised artifacts in search")

    # an artifact, rendered as HTML
    picked = [a.artifact_id for a in rng.sample(alive, min(sizes.requests, len(alive)))]
    latency = Latency()
    deadline = time.perf_counter() + sizes.related_budget_s
    for artifact_id in picked:
        doc = await get(client, f"/artifacts/{artifact_id}?format=html", latency)
        checks.that(
            doc.get("artifact_id") == artifact_id and "body_html" in doc,
            f"GET /artifacts/{artifact_id}?format=html",
        )
        if time.perf_counter() > deadline:
            break
    row[f"GET /artifacts/{{id}}?format=html, {col}"] = latency.row()

    # related artifacts
    latency, sizes_seen = Latency(), Counter[int]()
    deadline = time.perf_counter() + sizes.related_budget_s
    for artifact_id in picked:
        related = await get(client, f"/artifacts/{artifact_id}/related", latency)
        sizes_seen[len(related)] += 1
        checks.that(
            artifact_id not in {r["artifact_id"] for r in related},
            f"related of {artifact_id} lists itself",
        )
        if time.perf_counter() > deadline:
            break
    row[f"GET /artifacts/{{id}}/related, {col}"] = latency.row()
    row["time budgets, s: searches; each artifact endpoint"] = (
        f"{sizes.budget_s:g}; {sizes.related_budget_s:g}"
    )
    row["checks passed"] = f"{checks.compared - len(checks.wrong)} of {checks.compared}"
    row["first failed checks"] = "; ".join(checks.wrong[:5]) or "none"
    return row


async def profiled(client: httpx.AsyncClient, library: Library) -> None:
    """cProfile of common-word searches and of related artifacts, printed (top 25, cumulative)."""
    common = library.common_words(6)
    some = [a.artifact_id for a in library.artifacts[:5] if not a.retired]
    for what, paths in (
        ("GET /search (common words)", [search_path(f"{w} {common[0]}") for w in common[1:6]]),
        ("GET /artifacts/{id}/related", [f"/artifacts/{a}/related" for a in some]),
    ):
        profile = cProfile.Profile()
        profile.enable()
        for path in paths:
            await get(client, path)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"--- cProfile: {what}, {len(paths)} requests ---\n{out.getvalue()}")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
        print(f"--- by own time ---\n{out.getvalue()}")


# --- alone: python -m bench.knowledge_search ---


def write(row: dict[str, Any], infra: BenchInfra, mongodb: str) -> None:
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "infra": infra.origin,
        "mongodb": mongodb,
        "knowledge search": row,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "knowledge_search.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Knowledge: projection, search, artifacts and related artifacts", ""]
    lines += [f"{results['when']} on {results['machine']}", ""]
    lines += [f"Infrastructure: {infra.origin}", "", f"MongoDB-protocol server: {mongodb}", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in row.items()]
    (OUT / "knowledge_search.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    defaults = SearchSizes.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=int, default=defaults.artifacts)
    parser.add_argument("--queries", type=int, default=defaults.queries, help="timed searches")
    parser.add_argument("--requests", type=int, default=defaults.requests, help="per endpoint")
    parser.add_argument("--budget-s", type=float, default=defaults.budget_s, help="searches")
    parser.add_argument(
        "--related-budget-s",
        type=float,
        default=defaults.related_budget_s,
        help="per artifact endpoint",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of requests")
    args = parser.parse_args()
    sizes = SearchSizes(
        args.artifacts,
        args.queries,
        args.requests,
        args.budget_s,
        args.related_budget_s,
        args.seed,
    )

    async def run(infra: BenchInfra) -> dict[str, Any]:
        try:
            return await bench_search(infra, sizes, profile=args.profile)
        finally:
            await delete_topics(infra)

    with provide_infra() as infra:
        row = asyncio.run(run(infra))
        write(row, infra, asyncio.run(mongo_server(infra.mongodb_uri)))


if __name__ == "__main__":
    main()
