"""The words a library is written in: per topic its words (most frequent first), tags and a title
phrase; general words, verbs, function words, systems and syllables of code names; the kinds of
artifact with their weights and sections; and Zipf-like drawing of words."""

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from shared.events.catalog import ArtifactKind


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


def code_names(rng: random.Random, n: int) -> list[str]:
    """`n` made-up system names of 2-3 syllables, in random order."""
    found: set[str] = set()
    while len(found) < n:
        found.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3)))))
    names = sorted(found)
    rng.shuffle(names)
    return names
