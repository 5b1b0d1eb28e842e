"""The seeded library: artifacts published, revised and retired over two years, as events, and what
a search of it should find."""

import bisect
import itertools
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Facts, sizes_from_env
from bench.knowledge_search.vocabulary import (
    COMMUNITIES,
    FUNCTION,
    GENERAL,
    GENERAL_TAGS,
    KIND_WEIGHTS,
    SECTIONS,
    SYSTEMS,
    TICKET_PROJECTS,
    TOPICS,
    VERBS,
    Zipf,
    code_names,
)
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

SOURCE = "bench/knowledge-search"
HISTORY_DAYS = 730


@dataclass(frozen=True)
class SearchSizes:
    """How big a run is: the library, and the requests asked of it."""

    artifacts: int = 10_000
    queries: int = 300
    requests: int = 200  # per artifact endpoint
    budget_s: float = 45.0  # for the timed searches
    related_budget_s: float = 20.0  # for each artifact endpoint
    seed: int = 11

    @classmethod
    def from_env(cls) -> "SearchSizes":
        return sizes_from_env(cls(), "BENCH_SEARCH_")


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
        self.code_names = Zipf(code_names(rng, max(300, n // 5)), s=0.9)
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
        self.facts = Facts(SOURCE, run)
        self.revisions = self.retirements = 0
        span = HISTORY_DAYS * 86400 - 1
        times = sorted(self.start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
        for i, at in enumerate(times):
            self._publish(i, at)
        for artifact in self.artifacts:
            self._later(artifact)

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
        self.facts.add(
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
            self.facts.add(
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
            self.facts.add(
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
