"""A team's delivery in a period, from CI/CD facts: the DORA metrics and what they leave out.

The rules (docs/impact.md says them at length):

- A deployment is a production `service.deployed` or `service.upgraded` (a rollback is not one),
  counted for the team owning its service at its time, in the period of its time.
- A change's deployments are those of the artifacts packaged from it; its lead time runs from
  its merge to its first production deployment, and counts for that deployment's team and
  period. A change without a merge, or deployed before its merge, is left out and counted.
- A deployment D of service S failed when a production incident names D's artifact; or when a
  production incident of S naming no artifact, or a production rollback of S, comes while D is
  S's latest production deployment (at or after D, before S's next one).
- Restore time: from a production incident's detection to its resolution, for the team owning
  its service when it was detected; an incident detected in P and not resolved is open.

Everything here works on facts in memory: `CicdWindow` holds the production facts one team's
periods need, as `adapters/projection.py` reads them.
"""

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from services.impact.domain.ownership import Owners
from services.impact.domain.periods import Period
from services.impact.domain.stats import hours, median, ratio, rounded
from shared.team_impact import Dora


@dataclass(frozen=True, order=True)
class Deployment:
    at: datetime
    key: str  # the event's: orders deployments at the same moment
    service_id: str
    artifact_id: str


@dataclass(frozen=True, order=True)
class Rollback:
    at: datetime
    key: str
    service_id: str


@dataclass(frozen=True)
class Incident:
    incident_id: str
    detected_at: datetime
    service_id: str | None
    artifact_id: str | None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    change_id: str
    merged_at: datetime | None
    first_deployment: Deployment | None
    """its first production deployment, of any service"""


@dataclass(frozen=True)
class TeamGaps:
    changes_without_merge: int = 0
    negative_lead_times: int = 0
    deployments_without_change: int = 0
    incidents_resolved_before_detected: int = 0


@dataclass
class CicdWindow:
    """The production facts one team's figures need for the periods of a window [start, end):
    its services' owners; their deployments, rollbacks and incidents in the window, and, after
    it, up to each service's first deployment past the window's end; the incidents naming the
    deployed artifacts; the changes behind those artifacts.

    Built once by the projection, then only read: its orderings are computed on first use and
    shared by every period asked of it (a trend asks for many)."""

    owners: dict[str, Owners] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    rollbacks: list[Rollback] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    artifact_changes: dict[str, list[str]] = field(default_factory=dict)
    changes: dict[str, Change] = field(default_factory=dict)

    def owner(self, service_id: str | None, at: datetime) -> str | None:
        if service_id is None or service_id not in self.owners:
            return None
        return self.owners[service_id].at(at)

    @cached_property
    def in_order(self) -> list[Deployment]:
        return sorted(self.deployments, key=_moment_and_key)

    @cached_property
    def _times(self) -> list[datetime]:
        return [d.at for d in self.in_order]

    def deployments_between(self, start: datetime, end: datetime) -> list[Deployment]:
        return self.in_order[bisect_left(self._times, start) : bisect_left(self._times, end)]

    @cached_property
    def following(self) -> dict[str, Deployment | None]:
        """Each deployment's key -> the next production deployment of its service."""
        after: dict[str, Deployment | None] = {}
        latest: dict[str, Deployment] = {}
        for d in self.in_order:
            if d.service_id in latest:
                after[latest[d.service_id].key] = d
            after[d.key] = None
            latest[d.service_id] = d
        return after

    @cached_property
    def strikes(self) -> dict[str, list[datetime]]:
        """By service, in order, the moments that fail whichever deployment of the service is
        the latest by then: its rollbacks, and its incidents naming no artifact."""
        found: dict[str, list[datetime]] = {}
        for incident in self.incidents.values():
            if incident.artifact_id is None and incident.service_id is not None:
                found.setdefault(incident.service_id, []).append(incident.detected_at)
        for rollback in self.rollbacks:
            found.setdefault(rollback.service_id, []).append(rollback.at)
        for moments in found.values():
            moments.sort()
        return found

    @cached_property
    def named_artifacts(self) -> set[str]:
        """The artifacts a production incident names."""
        return {i.artifact_id for i in self.incidents.values() if i.artifact_id is not None}


def _moment_and_key(d: Deployment) -> tuple[datetime, str]:
    return d.at, d.key


def delivery(window: CicdWindow, team: str, period: Period) -> tuple[Dora, TeamGaps]:
    """The team's DORA metrics for the period, and what they leave out."""
    ours = [
        d
        for d in window.deployments_between(period.start, period.end)
        if window.owner(d.service_id, d.at) == team
    ]
    failed = [d for d in ours if _failed(window, d)]
    lead_times, no_merge, negative = _lead_times(window, ours)
    restore, open_incidents, reversed_ = _restore(window, team, period)
    dora = Dora(
        deployments=len(ours),
        deployment_days=len({d.at.date() for d in ours}),
        lead_time_median_h=rounded(median(lead_times), 2),
        change_failure_rate=ratio(len(failed), len(ours)),
        restore_median_h=rounded(median(restore), 2),
        open_incidents=open_incidents,
    )
    gaps = TeamGaps(
        changes_without_merge=no_merge,
        negative_lead_times=negative,
        deployments_without_change=sum(
            1 for d in ours if not window.artifact_changes.get(d.artifact_id)
        ),
        incidents_resolved_before_detected=reversed_,
    )
    return dora, gaps


def _failed(window: CicdWindow, d: Deployment) -> bool:
    if d.artifact_id in window.named_artifacts:
        return True
    moments = window.strikes.get(d.service_id, [])
    first = bisect_left(moments, d.at)
    after = window.following.get(d.key)
    return first < len(moments) and (after is None or moments[first] < after.at)


def _lead_times(window: CicdWindow, ours: Iterable[Deployment]) -> tuple[list[float], int, int]:
    """Hours from merge to first production deployment of the changes first deployed by one
    of `ours`; how many of those changes have no merge, and how many were deployed before it."""
    keys = {d.key for d in ours}
    firsts = {
        change_id for d in ours for change_id in window.artifact_changes.get(d.artifact_id, ())
    }
    lead_times, no_merge, negative = [], 0, 0
    for change_id in sorted(firsts):
        change = window.changes.get(change_id)
        first = change.first_deployment if change else None
        if change is None or first is None or first.key not in keys:
            continue  # first deployed elsewhere or at another time
        if change.merged_at is None:
            no_merge += 1
        elif first.at < change.merged_at:
            negative += 1
        else:
            lead_times.append(hours(first.at - change.merged_at))
    return lead_times, no_merge, negative


def _restore(window: CicdWindow, team: str, period: Period) -> tuple[list[float], int, int]:
    """Hours to restore the team's incidents detected in the period that are resolved; how
    many are open; how many are resolved before their detection (left out)."""
    restore, still_open, reversed_ = [], 0, 0
    for incident in window.incidents.values():
        detected = incident.detected_at
        if not period.contains(detected) or window.owner(incident.service_id, detected) != team:
            continue
        if incident.resolved_at is None:
            still_open += 1
        elif incident.resolved_at < detected:
            reversed_ += 1
        else:
            restore.append(hours(incident.resolved_at - detected))
    return restore, still_open, reversed_
