"""Recognition's MongoDB projection.

Every fact lands as keyed items in small documents, written with operators that a redelivery
or a replay leaves unchanged (`MergedUpdates`), and every number is a function of those items:

- `community_months` (`<community>|<YYYY-MM>`): the month's ledger entries, held sessions,
  feedback, published artifacts, reuses, opened action items and counted kudos, each under the
  key of the fact that made it. This is the ledger, bucketed so that one period is a few reads
  by `_id` however long the community's history is.
- `rosters` (`<community>`): each member's joins and leaves; `member_teams` (`<member>`): each
  change of team; `artifacts` (`<artifact>`): authors and reuses; `action_items` (`<item>`):
  when opened and closed.
- `member_rollups` (`<member>|<community>`): the member's standing per month and per week,
  recomputed from the month's items after each batch and stored with `$max` on a value that
  sorts by how many items it was computed from, so a writer that read less never overwrites
  one that read more. `member_communities` (`<member>`): where a member has a rollup.
- `communities` (`<community>`): its first month, the months and quarters with sessions, its
  participants, and which months changed since they were last evaluated.
- `kudos` (`<kudos id>`): each kudos and, once judged, its verdicts.
- `health_checks`, `community_health_checks`: health-check rounds and each community's list of
  them (written through `health_checks.py`, which also keeps the rounds' private ballot boxes).
- `health_marks`: which months the facts of each batch may change, written after the facts, so
  that kept health numbers of ended months are not served once stale (`health_store.py`).

Kept across a rebuild (they are decisions, not projections): `kudos_allowances` (see
`judge.py`), `badges` and `alerts`.
"""

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson.codec_options import CodecOptions
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.recognition.adapters.health_store import (
    EVERY_COMMUNITY,
    MARKS,
    HealthMarkWrites,
)
from services.recognition.domain import health as h
from services.recognition.domain.ledger import Contribution, LedgerEntry
from services.recognition.domain.periods import month_key, quarter_key, week_key
from services.recognition.domain.standing import Standing, decode, encode, total
from shared.documents import Doc
from shared.keys import field_key
from shared.mongo import MergedUpdates

PROJECTION = (
    "kudos",
    "community_months",
    "rosters",
    "member_teams",
    "artifacts",
    "action_items",
    "member_rollups",
    "member_communities",
    "communities",
    "health_checks",
    "community_health_checks",
)
DECISIONS = ("kudos_allowances", "badges", "alerts")


def bucket_id(community_id: str, month: str) -> str:
    return f"{community_id}|{month}"


def rollup_id(member_id: str, community_id: str) -> str:
    return f"{member_id}|{community_id}"


def member_key(member_id: str) -> str:
    return field_key(member_id)


@dataclass
class Touched:
    """What a batch changed, for the work that follows its commit."""

    member_months: set[tuple[str, str, str]] = field(
        default_factory=set
    )  # member, community, month
    artifacts: set[str] = field(default_factory=set)
    communities: set[str] = field(default_factory=set)
    health_checks: set[str] = field(default_factory=set)  # rounds closed

    def members(self) -> set[str]:
        return {m for m, _, _ in self.member_months}


AfterCommit = Callable[[Touched], Awaitable[None]]


class RecognitionProjection:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.kudos = db["kudos"]
        self.months = db["community_months"]
        self.months_naive: AsyncCollection[Doc] = self.months.with_options(
            codec_options=CodecOptions(tz_aware=False)
        )
        self.rosters = db["rosters"]
        self.teams = db["member_teams"]
        self.artifacts = db["artifacts"]
        self.actions = db["action_items"]
        self.rollups = db["member_rollups"]
        self.member_communities = db["member_communities"]
        self.communities = db["communities"]
        self.badges = db["badges"]
        self.alerts = db["alerts"]
        self.health_marks = db[MARKS]
        self.after_commit: list[AfterCommit] = []

    def unit_of_work(self) -> "RecognitionWrites":
        return RecognitionWrites(self)

    # --- reads ----------------------------------------------------------------------------

    async def kudos_record(self, kudos_id: str) -> Doc | None:
        return await self.kudos.find_one({"_id": kudos_id})

    async def buckets(
        self, community_id: str, months: Iterable[str], *fields: str, naive: bool = False
    ) -> list[Doc]:
        """The community's month buckets. `naive`: their times decoded without a timezone
        (they are UTC), four times faster to decode; the caller makes those it uses aware."""
        ids = [bucket_id(community_id, m) for m in months]
        projection = dict.fromkeys(fields, 1) if fields else None
        months_read = self.months_naive if naive else self.months
        return await months_read.find({"_id": {"$in": ids}}, projection).to_list(None)

    async def community(self, community_id: str) -> Doc:
        return await self.communities.find_one({"_id": community_id}) or {"_id": community_id}

    async def rollups_of(self, member_ids: Iterable[str]) -> dict[str, list[Doc]]:
        """Every rollup of each member, in all their communities."""
        member_ids = list(member_ids)
        index = await self.member_communities.find({"_id": {"$in": member_ids}}).to_list(None)
        ids = [rollup_id(d["_id"], c) for d in index for c in d.get("communities", [])]
        found: dict[str, list[Doc]] = {m: [] for m in member_ids}
        for doc in await self.rollups.find({"_id": {"$in": ids}}).to_list(None):
            found[doc["member_id"]].append(doc)
        return found

    async def community_rollups(self, community_id: str) -> list[Doc]:
        participants = (await self.community(community_id)).get("p", {})
        ids = [rollup_id(m, community_id) for m in participants.values()]
        return await self.rollups.find({"_id": {"$in": ids}}).to_list(None)

    async def badges_of(self, member_id: str, names: Iterable[str]) -> list[Doc]:
        ids = [f"{member_id}|{name}" for name in names]
        return await self.badges.find({"_id": {"$in": ids}}).to_list(None)

    async def team_changes(self, member_ids: Iterable[str]) -> h.Teams:
        docs = await self.teams.find({"_id": {"$in": list(set(member_ids))}}).to_list(None)
        return h.Teams(
            {d["_id"]: [(at, team) for at, team in d.get("t", {}).values()] for d in docs}
        )


def standing_of(rollup: Doc, months: Iterable[str] | None = None) -> Standing:
    """A rollup's standing over some months (all of them when None)."""
    by_month = rollup.get("m", {})
    keys = by_month.keys() if months is None else [m for m in months if m in by_month]
    return total(decode(by_month[k]) for k in keys)


def standing_in_week(rollup: Doc, week: str) -> Standing:
    parts = rollup.get("w", {})
    return total(decode(v) for k, v in parts.items() if k.split("_")[0] == week)


class RecognitionWrites:
    """One batch's effects: merged updates, then rollups, then the after-commit work."""

    def __init__(self, projection: RecognitionProjection) -> None:
        self.p = projection
        self.updates = MergedUpdates()
        # Written last: a judged kudos shows (`?wait=true` looks for it) once its counts do.
        self.kudos_updates = MergedUpdates()
        # Written after `updates`: a mark must never land before the facts it is about.
        self.health_marks = HealthMarkWrites(projection.health_marks)
        self.touched = Touched()

    # --- facts ----------------------------------------------------------------------------

    def ledger(self, entries: Iterable[LedgerEntry]) -> None:
        for e in entries:
            month = month_key(e.at)
            self._bucket(
                e.community_id,
                month,
                "entries",
                e.key,
                [e.member_id, str(e.contribution), e.give, e.take, e.at],
            )
            self.touched.member_months.add((e.member_id, e.community_id, month))
            self._participant(e.community_id, e.member_id)

    def bucket_item(
        self, community_id: str, at: datetime, section: str, key: str, item: Any
    ) -> None:
        self._bucket(community_id, month_key(at), section, key, item)

    def _bucket(self, community_id: str, month: str, section: str, key: str, item: Any) -> None:
        self.updates.set_paths(
            self.p.months, bucket_id(community_id, month), {f"{section}.{key}": item}
        )
        self.updates.min(self.p.communities, community_id, "first_month", month)
        self.updates.max(self.p.communities, community_id, f"dirty.{month}", datetime.now(UTC))
        self.health_marks.changed_month(community_id, month)
        self.touched.communities.add(community_id)

    def kudos_received(self, community_id: str, month: str, members: Iterable[str]) -> None:
        for member in members:
            self.touched.member_months.add((member, community_id, month))
            self._participant(community_id, member)

    def _participant(self, community_id: str, member_id: str) -> None:
        path = f"p.{member_key(member_id)}"
        self.updates.set_paths(self.p.communities, community_id, {path: member_id})

    def session_held(self, community_id: str, at: datetime) -> None:
        self.updates.add_to_set(self.p.communities, community_id, "session_months", month_key(at))
        self.updates.add_to_set(
            self.p.communities, community_id, "session_quarters", quarter_key(at)
        )
        self.updates.max(self.p.communities, community_id, "last_session_at", at)

    def membership(
        self, community_id: str, member_id: str, key: str, at: datetime, kind: str
    ) -> None:
        mk = member_key(member_id)
        self.updates.set_paths(
            self.p.rosters, community_id, {f"m.{mk}.id": member_id, f"m.{mk}.e.{key}": [at, kind]}
        )
        month = month_key(at)
        self.updates.min(self.p.communities, community_id, "first_month", month)
        self.updates.max(self.p.communities, community_id, f"dirty.{month}", datetime.now(UTC))
        self.health_marks.changed_month(community_id, month)

    def team(self, member_id: str, key: str, at: datetime, team: str) -> None:
        self.updates.set_paths(self.p.teams, member_id, {f"t.{key}": [at, team]})
        # A member's sessions and reuses may be in any community.
        self.health_marks.changed(EVERY_COMMUNITY, at)

    def artifact(self, artifact_id: str, fields: dict[str, Any]) -> None:
        self.updates.set_paths(self.p.artifacts, artifact_id, fields)
        self.touched.artifacts.add(artifact_id)

    def artifact_authors(self, artifact_id: str, community_id: str, authors: list[str]) -> None:
        """The authors its first publication names (a reuse seen earlier may have made the
        document already). They never change after: kept health numbers rely on it."""
        fields = {"community_id": community_id, "authors": authors}
        self.updates.set_once(self.p.artifacts, artifact_id, fields, unless="authors")
        self.touched.artifacts.add(artifact_id)

    def action_item(
        self,
        item_id: str,
        community_id: str,
        *,
        opened_at: datetime | None = None,
        closed_at: datetime | None = None,
    ) -> None:
        if opened_at is not None:
            self.updates.set(self.p.actions, item_id, opened_at=opened_at)
        if closed_at is not None:
            self.updates.min(self.p.actions, item_id, "closed_at", closed_at)
            self.health_marks.changed(community_id, closed_at)

    def kudos(self, kudos_id: str, *, on_insert: dict[str, Any], fields: dict[str, Any]) -> None:
        if on_insert:
            self.kudos_updates.set_on_insert(self.p.kudos, kudos_id, on_insert)
        if fields:
            self.kudos_updates.set_paths(self.p.kudos, kudos_id, fields)

    def decision(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        """A badge or alert as published: the first record of it stays."""
        self.updates.set_on_insert(self.p.db[collection], doc_id, doc)

    # --- commit ---------------------------------------------------------------------------

    async def commit(self) -> None:
        try:
            await self.updates.flush()
        except Exception:
            # What a failed flush did write must be marked too (the batch is retried, or its
            # poison event set aside, and its facts may stay).
            with contextlib.suppress(Exception):
                await self.health_marks.flush()
            raise
        await self.health_marks.flush()
        if self.touched.member_months:
            await self._roll_up()
        for hook in self.p.after_commit:
            await hook(self.touched)
        await self.kudos_updates.flush()

    async def _roll_up(self) -> None:
        """Recompute each touched member's month (and its weeks) from the month's items."""
        wanted: dict[tuple[str, str], set[str]] = {}
        for member, community, month in self.touched.member_months:
            wanted.setdefault((community, month), set()).add(member)
        ids = [bucket_id(c, m) for c, m in wanted]
        rollups = MergedUpdates()
        for bucket in await self.p.months.find({"_id": {"$in": ids}}).to_list(None):
            community, month = bucket["_id"].rsplit("|", 1)
            members = wanted[(community, month)]
            for member, (items, standing, weeks) in month_standings(bucket, members).items():
                doc_id = rollup_id(member, community)
                rollups.set(self.p.rollups, doc_id, member_id=member, community_id=community)
                rollups.max(self.p.rollups, doc_id, f"m.{month}", encode(items, standing))
                for week, (week_items, week_standing) in weeks.items():
                    path = f"w.{week}_{month}"
                    rollups.max(self.p.rollups, doc_id, path, encode(week_items, week_standing))
                rollups.add_to_set(self.p.member_communities, member, "communities", community)
        await rollups.flush()


def month_standings(
    bucket: Doc, members: set[str]
) -> dict[str, tuple[int, Standing, dict[str, tuple[int, Standing]]]]:
    """Each member's standing in a month bucket, with how many items it counts, and per week."""
    # Summed as plain counters (items, then the standing's fields in order): a bucket holds a
    # month of a community's facts, and this runs for every bucket a batch touches.
    sums: dict[tuple[str, str], list[int]] = {}

    def add(member: str, at: datetime, fields: tuple[int, ...]) -> None:
        if member in members:
            counters = sums.setdefault((member, week_key(at)), [0] * (1 + len(fields)))
            counters[0] += 1
            for k, v in enumerate(fields, 1):
                counters[k] += v

    for member, contribution, give, take, at in bucket.get("entries", {}).values():
        add(member, at, _entry_fields(contribution, give, take))
    for _kudos_id, _giver, counted, at, *_ in bucket.get("kudos", {}).values():
        for member in counted:
            add(member, at, _KUDOS_RECEIVED)
    result: dict[str, tuple[int, Standing, dict[str, tuple[int, Standing]]]] = {}
    for (member, week), (n, *fields) in sums.items():
        week_standing = Standing(*fields)
        items, month_total, weeks = result.get(member, (0, Standing(), {}))
        weeks[week] = (n, week_standing)
        result[member] = (items + n, month_total + week_standing, weeks)
    return result


_KUDOS_RECEIVED = Standing(kudos_received=1).as_tuple()


@functools.cache
def _entry_fields(contribution: str, give: int, take: int) -> tuple[int, ...]:
    """A ledger entry's part of a standing, as `Standing.as_tuple()` orders the fields."""
    return Standing(
        give=give,
        take=take,
        kudos_given=int(contribution == Contribution.KUDOS_GIVEN),
        spoke=int(contribution == Contribution.SPOKE),
        facilitated=int(contribution == Contribution.FACILITATED),
        authored=int(contribution == Contribution.AUTHORED),
    ).as_tuple()
