"""The impact service's MongoDB projection: every fact under the key of the event that brought
it, in small documents read by `_id`, so that a team's period is a few reads however long its
history, and the figures are computed when asked (a late fact counts as soon as it lands).

- `service_months` (`<service>|<YYYY-MM>`): the service's deployments, rollbacks and the ids of
  the incidents naming it, in the month of their time.
- `services` (`<service>`): its owner changes and the months it has facts in.
- `artifacts` (`<artifact>`): the changes it was packaged from, its deployments (of any service)
  and the ids of the incidents naming it.
- `changes` (`<change>`): its merges and its artifacts.
- `incidents` (`<incident>`): its detections (time, environment, service, artifact) and
  resolutions.
- `months` (`<YYYY-MM>`): the services with facts in the month, and the incidents naming no
  service (what the figures of no team can hold).
- `teams` (`<team>`): the services it was ever given and the members who ever named it.
- `members` (`<member>`): each change of team; `member_months` (`<member>|<YYYY-MM>`): the
  sessions they attended, the artifacts they authored, the kudos counted for them;
  `team_months` (`<team>|<YYYY-MM>`): the reuses recorded with the team.

Every write sets a path keyed by its event (`MergedUpdates`), so a redelivery, a duplicate or
any order of arrival leaves the same documents; where one thing came twice under two events (an
incident detected twice), the reads take the earliest.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.impact.domain.delivery import Change, CicdWindow, Deployment, Incident, Rollback
from services.impact.domain.ownership import OwnerChange, Owners
from services.impact.domain.participation import Moments, PeopleWindow
from services.impact.domain.periods import month_key
from shared.documents import Doc
from shared.keys import field_key
from shared.mongo import MergedUpdates, all_by_ids

PROJECTION: Final = (
    "service_months",
    "services",
    "artifacts",
    "changes",
    "incidents",
    "months",
    "teams",
    "members",
    "member_months",
    "team_months",
)
DEPLOYED, UPGRADED = "deployed", "upgraded"
"""The kinds of deployment (a rollback is kept apart: it is not one)."""
FORWARD_MONTHS = 3
"""Months read at once after a window, looking for each service's next production deployment."""


def bucket(owner: str, at: datetime) -> str:
    return f"{owner}|{month_key(at)}"


def owners_of(doc: Doc | None) -> Owners:
    changes = (doc or {}).get("owners") or {}
    return Owners.of(
        OwnerChange(effective=effective, made_at=made_at, key=key, team=team)
        for key, (effective, team, made_at) in changes.items()
    )


@dataclass(frozen=True)
class ServiceState:
    service_id: str
    owners: Owners
    months: list[str]


class ImpactProjection:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.service_months = db["service_months"]
        self.services = db["services"]
        self.artifacts = db["artifacts"]
        self.changes = db["changes"]
        self.incidents = db["incidents"]
        self.months = db["months"]
        self.teams = db["teams"]
        self.members = db["members"]
        self.member_months = db["member_months"]
        self.team_months = db["team_months"]

    def unit_of_work(self) -> "ImpactWrites":
        return ImpactWrites(self)

    # --- services and teams ---

    async def service(self, service_id: str) -> ServiceState | None:
        doc = await self.services.find_one({"_id": service_id})
        if doc is None:
            return None
        return ServiceState(service_id, owners_of(doc), sorted(doc.get("months") or []))

    async def owners(self, service_id: str) -> Owners:
        return owners_of(await self.services.find_one({"_id": service_id}, {"owners": 1}))

    async def service_states(self, service_ids: Iterable[str]) -> dict[str, ServiceState]:
        docs = await all_by_ids(self.services, sorted(set(service_ids)))
        return {
            d["_id"]: ServiceState(d["_id"], owners_of(d), sorted(d.get("months") or []))
            for d in docs
        }

    async def has_owner_change(self, service_id: str, key: str) -> bool:
        doc = await self.services.find_one({"_id": service_id}, {f"owners.{key}": 1})
        return bool(doc and key in (doc.get("owners") or {}))

    async def team(self, team: str) -> Doc | None:
        return await self.teams.find_one({"_id": team})

    async def all_teams(self) -> list[Doc]:
        """Every team (a collection as large as the organisation's list of teams)."""
        return await self.teams.find({}).sort("_id", 1).to_list(None)

    # --- one team's CI/CD facts ---

    async def cicd_window(
        self, team: str, months: list[str], production: frozenset[str]
    ) -> CicdWindow:
        """The production facts of the team's services for the months of a window (see
        `CicdWindow`), read by `_id`: the team, its services, their months in the window and
        after it up to each one's next production deployment, and the artifacts, incidents and
        changes those name."""
        window = CicdWindow()
        team_doc = await self.team(team)
        service_ids = sorted(((team_doc or {}).get("services") or {}).values())
        states = await self.service_states(service_ids)
        window.owners = {s: state.owners for s, state in states.items()}
        wanted = set(months)
        incident_ids: set[str] = set()
        in_window = [
            bucket_id
            for state in states.values()
            for m in state.months
            if m in wanted
            for bucket_id in [f"{state.service_id}|{m}"]
        ]
        for doc in await all_by_ids(self.service_months, in_window):
            incident_ids |= _read_bucket(doc, production, window)
        last = max(months)
        later = {s: [m for m in st.months if m > last] for s, st in states.items()}
        while later := {s: ms for s, ms in later.items() if ms}:
            ids = [f"{s}|{m}" for s, ms in later.items() for m in ms[:FORWARD_MONTHS]]
            found: set[str] = set()
            for doc in sorted(await all_by_ids(self.service_months, ids), key=lambda d: d["_id"]):
                before = len(window.deployments)
                incident_ids |= _read_bucket(doc, production, window)
                if len(window.deployments) > before:
                    found.add(doc["_id"].rsplit("|", 1)[0])
            later = {s: ms[FORWARD_MONTHS:] for s, ms in later.items() if s not in found}
        # The deployments after the window only end its last ones: their artifacts do not count.
        artifact_ids = sorted(
            {d.artifact_id for d in window.deployments if month_key(d.at) <= last}
        )
        artifacts = {d["_id"]: d for d in await all_by_ids(self.artifacts, artifact_ids)}
        for artifact_id, doc in artifacts.items():
            window.artifact_changes[artifact_id] = sorted(set((doc.get("changes") or {}).values()))
            incident_ids |= set((doc.get("incidents") or {}).values())
        change_ids = sorted({c for cs in window.artifact_changes.values() for c in cs})
        window.incidents, window.changes = await asyncio.gather(
            self.production_incidents(incident_ids, production),
            self._changes(change_ids, artifacts, production),
        )
        return window

    async def production_incidents(
        self, incident_ids: Iterable[str], production: frozenset[str]
    ) -> dict[str, Incident]:
        """The incidents, as first detected, whose first detection was in production."""
        found = {}
        for doc in await all_by_ids(self.incidents, sorted(set(incident_ids))):
            detections = sorted((doc.get("detected") or {}).values(), key=lambda d: d[0])
            if not detections or detections[0][1] not in production:
                continue
            at, _, service_id, artifact_id = detections[0]
            resolutions = sorted((doc.get("resolved") or {}).values())
            found[doc["_id"]] = Incident(
                doc["_id"], at, service_id, artifact_id, resolutions[0] if resolutions else None
            )
        return found

    async def _changes(
        self, change_ids: list[str], known: dict[str, Doc], production: frozenset[str]
    ) -> dict[str, Change]:
        """The changes, each with its merge and its first production deployment (among every
        artifact packaged from it: those `known` already, and the others read now)."""
        docs = await all_by_ids(self.changes, change_ids)
        artifacts_of = {d["_id"]: sorted(set((d.get("artifacts") or {}).values())) for d in docs}
        wanted = sorted({a for ids in artifacts_of.values() for a in ids} - set(known))
        others = await all_by_ids(self.artifacts, wanted, {"deployments": 1})
        deployments: dict[str, list[Deployment]] = {}
        for doc in [*known.values(), *others]:
            deployments[doc["_id"]] = [
                Deployment(at, key, service_id, doc["_id"])
                for key, (at, service_id, environment, kind) in (
                    doc.get("deployments") or {}
                ).items()
                if environment in production and kind in (DEPLOYED, UPGRADED)
            ]
        merges = {d["_id"]: (d.get("merged") or {}).values() for d in docs}
        changes = {}
        for change_id in change_ids:
            first = min(
                (d for a in artifacts_of.get(change_id, []) for d in deployments.get(a, [])),
                default=None,
            )
            merged = min(merges.get(change_id, ()), default=None)
            changes[change_id] = Change(change_id, merged, first)
        return changes

    async def platform_gaps(
        self, months: list[str], production: frozenset[str]
    ) -> tuple[dict[str, Incident], dict[str, list[str]]]:
        """For the months: the production incidents naming no service, and by month the
        services with facts in it that nobody owns."""
        docs = await all_by_ids(self.months, months)
        unattributed = {i for d in docs for i in (d.get("unattributed") or {}).values()}
        incidents = await self.production_incidents(unattributed, production)
        seen = {d["_id"]: sorted(set((d.get("services") or {}).values())) for d in docs}
        states = await self.service_states(s for ids in seen.values() for s in ids)
        unowned = {
            month: [s for s in ids if s not in states or not states[s].owners.changes]
            for month, ids in seen.items()
        }
        return incidents, unowned

    # --- one team's people ---

    async def people_window(self, team: str, months: list[str]) -> PeopleWindow:
        window = PeopleWindow()
        team_doc = await self.team(team)
        member_ids = sorted(set(((team_doc or {}).get("members") or {}).values()))
        for doc in await all_by_ids(self.members, member_ids):
            window.teams[doc["_id"]] = [(at, t) for at, t in (doc.get("t") or {}).values()]
        ids = [f"{m}|{month}" for m in member_ids for month in months]
        for doc in await all_by_ids(self.member_months, ids):
            member = doc["_id"].rsplit("|", 1)[0]
            for kind, into in (
                ("sessions", window.sessions),
                ("authored", window.authored),
                ("kudos", window.kudos),
            ):
                _earliest(into.setdefault(member, {}), (doc.get(kind) or {}).values())
        team_ids = [f"{team}|{month}" for month in months]
        for doc in await all_by_ids(self.team_months, team_ids):
            window.reuses.extend((doc.get("reuses") or {}).values())
        return window


def _earliest(into: Moments, items: Iterable[list[Any]]) -> None:
    """Each fact (`[id, at]`) by its id, at its earliest time (a session held twice counts once)."""
    for fact_id, at in items:
        if fact_id not in into or at < into[fact_id]:
            into[fact_id] = at


def _read_bucket(doc: Doc, production: frozenset[str], window: CicdWindow) -> set[str]:
    """A service-month's production deployments and rollbacks into the window; returns the ids
    of the incidents naming the service."""
    service_id = doc["_id"].rsplit("|", 1)[0]
    for key, (at, artifact_id, environment, kind) in (doc.get("deployments") or {}).items():
        if environment in production and kind in (DEPLOYED, UPGRADED):
            window.deployments.append(Deployment(at, key, service_id, artifact_id))
    for key, (at, environment) in (doc.get("rollbacks") or {}).items():
        if environment in production:
            window.rollbacks.append(Rollback(at, key, service_id))
    return set((doc.get("incidents") or {}).values())


class ImpactWrites:
    """One batch's writes, merged per document and flushed together (`MergedUpdates`)."""

    def __init__(self, projection: ImpactProjection) -> None:
        self.p = projection
        self.updates = MergedUpdates()

    def _set(self, collection: AsyncCollection[Doc], doc_id: str, fields: Doc) -> None:
        self.updates.set_paths(collection, doc_id, fields)

    def _service_seen(self, service_id: str, at: datetime) -> None:
        self.updates.add_to_set(self.p.services, service_id, "months", month_key(at))
        self._set(self.p.months, month_key(at), {f"services.{field_key(service_id)}": service_id})

    def change_merged(self, change_id: str, key: str, at: datetime) -> None:
        self._set(self.p.changes, change_id, {f"merged.{key}": at})

    def artifact_packaged(self, artifact_id: str, change_id: str, key: str) -> None:
        self._set(self.p.artifacts, artifact_id, {f"changes.{key}": change_id})
        self._set(self.p.changes, change_id, {f"artifacts.{field_key(artifact_id)}": artifact_id})

    def deployment(
        self, service_id: str, artifact_id: str, environment: str, at: datetime, key: str, kind: str
    ) -> None:
        item = [at, artifact_id, environment, kind]
        self._set(self.p.service_months, bucket(service_id, at), {f"deployments.{key}": item})
        self._set(
            self.p.artifacts,
            artifact_id,
            {f"deployments.{key}": [at, service_id, environment, kind]},
        )
        self._service_seen(service_id, at)

    def rollback(self, service_id: str, environment: str, at: datetime, key: str) -> None:
        self._set(
            self.p.service_months, bucket(service_id, at), {f"rollbacks.{key}": [at, environment]}
        )
        self._service_seen(service_id, at)

    def incident_detected(
        self,
        incident_id: str,
        key: str,
        at: datetime,
        environment: str,
        service_id: str | None,
        artifact_id: str | None,
    ) -> None:
        detection = [at, environment, service_id, artifact_id]
        self._set(self.p.incidents, incident_id, {f"detected.{key}": detection})
        named = {f"incidents.{field_key(incident_id)}": incident_id}
        if service_id is not None:
            self._set(self.p.service_months, bucket(service_id, at), named)
            self._service_seen(service_id, at)
        else:
            self._set(
                self.p.months,
                month_key(at),
                {f"unattributed.{field_key(incident_id)}": incident_id},
            )
        if artifact_id is not None:
            self._set(self.p.artifacts, artifact_id, named)

    def incident_resolved(self, incident_id: str, key: str, at: datetime) -> None:
        self._set(self.p.incidents, incident_id, {f"resolved.{key}": at})

    def owner(
        self, service_id: str, team: str, effective: datetime, made_at: datetime, key: str
    ) -> None:
        self._set(self.p.services, service_id, {f"owners.{key}": [effective, team, made_at]})
        self._set(self.p.teams, team, {f"services.{field_key(service_id)}": service_id})

    def member_team(self, member_id: str, team: str, at: datetime, key: str) -> None:
        self._set(self.p.members, member_id, {f"t.{key}": [at, team]})
        if team:
            self._set(self.p.teams, team, {f"members.{field_key(member_id)}": member_id})

    def member_fact(self, member_id: str, kind: str, fact_id: str, at: datetime, key: str) -> None:
        """A session attended, an artifact authored or a kudos counted (`kind`)."""
        self._set(self.p.member_months, bucket(member_id, at), {f"{kind}.{key}": [fact_id, at]})

    def reuse(self, team: str, at: datetime, key: str) -> None:
        self._set(self.p.team_months, bucket(team, at), {f"reuses.{key}": at})

    async def commit(self) -> None:
        await self.updates.flush()
