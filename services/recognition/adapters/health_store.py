"""Health numbers of ended periods, kept once computed, and the marks that tell when they are
no longer true (the rule: `domain/health_staleness.py`).

- `health_marks`: per community (`<community>`), and for facts about a member rather than a
  community (team changes: `*`, read with every community), `from.<YYYY-MM>` counts the batches
  whose facts may change that month and every later one. Written only by the projection's unit
  of work (`HealthMarkWrites`), after the batch's facts are written, so that a number computed
  from facts read before them is tagged with fewer marks than there then are.
- `health_numbers` (`<community>|<period>`): an ended period's metrics and, for a month, its
  `MonthFacts`, tagged with the marks through the period's last month (read before its facts
  were) and a fingerprint of the code that computes them. Written only by the health reads
  (`StoredHealth.keep`, whole documents); one is served only while its tag is the current one.

Neither is part of the projection a replay compares, but a rebuild drops both: the marks start
again from nothing, and so must what was tagged with them.
"""

import asyncio
import hashlib
import importlib.util
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bson.codec_options import CodecOptions
from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.recognition.domain.health import MonthFacts, SessionBrief
from services.recognition.domain.health_staleness import Marks, changed_from, marks_through
from services.recognition.domain.periods import Period
from shared.community_health import HealthMetrics
from shared.documents import Doc
from shared.mongo import MAX_BULK_STATEMENTS

MARKS = "health_marks"
NUMBERS = "health_numbers"
COLLECTIONS = (MARKS, NUMBERS)
EVERY_COMMUNITY = "*"  # not an id: ids start with a letter or a digit

# The code the numbers come from: how facts are stored, gathered and counted. A change to any
# of it (a deploy) makes every kept number unusable, rather than trusting someone to say so.
NUMBERS_CODE = (
    "services.recognition.event_handlers",
    "services.recognition.adapters.projection",
    "services.recognition.adapters.health_reads",
    "services.recognition.adapters.health_store",
    "services.recognition.domain.health",
    "services.recognition.domain.ledger",
    "services.recognition.domain.periods",
    "shared.community_health",
)


def code_fingerprint(modules: Iterable[str]) -> str:
    """A digest of these modules' files, found without importing them."""
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise LookupError(f"no source for {name}")
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


RULES = code_fingerprint(NUMBERS_CODE)


def numbers_id(community_id: str, period: str) -> str:
    return f"{community_id}|{period}"


class HealthMarkWrites:
    """One batch's marks: per document, the earliest month its facts may change. Flushed once
    the batch's facts are written."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self._collection = collection
        self._from: dict[str, str] = {}

    def changed(self, scope: str, at: datetime) -> None:
        """A fact of time `at` about a community (its id) or a member (`EVERY_COMMUNITY`)."""
        self.changed_month(scope, changed_from(at))

    def changed_month(self, scope: str, month: str) -> None:
        if scope not in self._from or month < self._from[scope]:
            self._from[scope] = month

    async def flush(self) -> None:
        # `$inc`, unlike the projection's facts: a redelivered batch marks again, which only
        # makes a kept number be computed once more.
        writes = [
            UpdateOne({"_id": doc_id}, {"$inc": {f"from.{month}": 1}}, upsert=True)
            for doc_id, month in sorted(self._from.items())
        ]
        for start in range(0, len(writes), MAX_BULK_STATEMENTS):
            await self._collection.bulk_write(
                writes[start : start + MAX_BULK_STATEMENTS], ordered=False
            )
        self._from.clear()


class StoredHealth:
    """Reads and keeps ended periods' numbers by `_id`, each checked against the marks."""

    def __init__(self, db: AsyncDatabase[Doc], rules: str = RULES) -> None:
        self._marks = db[MARKS]
        # Decoded without timezones, several times faster (they are UTC): `facts_of` adds it.
        self._numbers: AsyncCollection[Doc] = db[NUMBERS].with_options(
            codec_options=CodecOptions(tz_aware=False)
        )
        self._rules = rules

    async def marks(self, community_id: str) -> Marks:
        """The community's marks and those of facts about members. Read before any fact."""
        found: Counter[str] = Counter()
        ids = [community_id, EVERY_COMMUNITY]
        for doc in await self._marks.find({"_id": {"$in": ids}}).to_list(None):
            found.update(doc.get("from", {}))
        return found

    async def kept(
        self, community_id: str, periods: Sequence[Period]
    ) -> tuple[Marks, dict[str, HealthMetrics]]:
        """The marks, and the periods' metrics kept under them. Read together: a document's
        tag says what it was computed from, whenever it is read."""
        marks, docs = await asyncio.gather(
            self.marks(community_id), self._documents(community_id, periods, "metrics")
        )
        return marks, _metrics(self._current(community_id, periods, marks, "metrics", docs))

    def _tag(self, marks: Marks, period: Period) -> str:
        return f"{self._rules}:{marks_through(marks, period)}"

    async def _documents(
        self, community_id: str, periods: Sequence[Period], part: str
    ) -> dict[str, Doc]:
        """The periods' documents with their tag and `part` (`metrics` or `facts`), by id."""
        if not periods:
            return {}
        ids = [numbers_id(community_id, p.key) for p in periods]
        docs = await self._numbers.find({"_id": {"$in": ids}}, {"tag": 1, part: 1}).to_list(None)
        return {d["_id"]: d for d in docs}

    def _current(
        self,
        community_id: str,
        periods: Sequence[Period],
        marks: Marks,
        part: str,
        docs: Mapping[str, Doc],
    ) -> dict[str, Doc]:
        """`part` of each period's document whose tag is current."""
        found = {}
        for p in periods:
            doc = docs.get(numbers_id(community_id, p.key))
            if doc is not None and part in doc and doc.get("tag") == self._tag(marks, p):
                found[p.key] = doc[part]
        return found

    async def metrics(
        self, community_id: str, periods: Sequence[Period], marks: Marks
    ) -> dict[str, HealthMetrics]:
        docs = await self._documents(community_id, periods, "metrics")
        return _metrics(self._current(community_id, periods, marks, "metrics", docs))

    async def month_facts(
        self, community_id: str, months: Sequence[Period], marks: Marks
    ) -> dict[str, MonthFacts]:
        docs = await self._documents(community_id, months, "facts")
        found = self._current(community_id, months, marks, "facts", docs)
        return {key: facts_of(doc) for key, doc in found.items()}

    async def keep(
        self,
        community_id: str,
        marks: Marks,
        metrics: Mapping[Period, HealthMetrics],
        facts: Mapping[Period, MonthFacts],
    ) -> None:
        """Write each period's document whole: its metrics and, for a month, its facts (a
        month's metrics are kept with its facts; its facts may be kept alone)."""
        docs: dict[Period, Doc] = {}
        for period, numbers in metrics.items():
            docs.setdefault(period, {})["metrics"] = numbers.model_dump()
        for month, month_facts in facts.items():
            docs.setdefault(month, {})["facts"] = facts_doc(month_facts)
        writes = [
            ReplaceOne(
                {"_id": numbers_id(community_id, p.key)},
                {"tag": self._tag(marks, p), **doc},
                upsert=True,
            )
            for p, doc in docs.items()
        ]
        for start in range(0, len(writes), MAX_BULK_STATEMENTS):
            await self._numbers.bulk_write(
                writes[start : start + MAX_BULK_STATEMENTS], ordered=False
            )


def _metrics(found: Mapping[str, Doc]) -> dict[str, HealthMetrics]:
    return {key: HealthMetrics.model_validate(doc) for key, doc in found.items()}


def facts_doc(facts: MonthFacts) -> Doc:
    """A month's facts as stored: lists rather than maps, so that ids need no escaping."""
    return {
        "active": [[m, last, give] for m, (last, give) in facts.active.items()],
        "sessions": [
            [s.session_id, s.at, s.facilitator_id, s.attendees, s.cross_team]
            for s in facts.sessions
        ],
        "attended": [[m, count] for m, count in facts.attended.items()],
        "feedback": [facts.feedback, facts.rating_sum, facts.applied],
        "published": facts.published,
        "reuses": [facts.reuses, facts.cross_team_reuses],
        "opened": [[item, at] for item, at in facts.opened],
    }


def facts_of(doc: Doc) -> MonthFacts:
    """A kept month's facts, read with times without their timezone (UTC). Only months whose
    authors were all known are kept."""
    feedback, rating_sum, applied = doc["feedback"]
    reuses, cross_team_reuses = doc["reuses"]
    return MonthFacts(
        active={m: (last, give) for m, last, give in doc["active"]},
        sessions=tuple(
            SessionBrief(session_id, _utc(at), facilitator, attendees, cross_team)
            for session_id, at, facilitator, attendees, cross_team in doc["sessions"]
        ),
        attended=dict(doc["attended"]),
        feedback=feedback,
        rating_sum=rating_sum,
        applied=applied,
        published=doc["published"],
        reuses=reuses,
        cross_team_reuses=cross_team_reuses,
        opened=tuple((item, _utc(at)) for item, at in doc["opened"]),
    )


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC)
