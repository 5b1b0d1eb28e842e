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
from typing import Literal

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
class Strike:
    """A fact that fails whichever production deployment of its service is the latest by
    then: a rollback, or an incident of the service naming no artifact."""

    at: datetime
    cause: Literal["rollback", "incident_of_service"]
    incident_id: str | None = None


@dataclass(frozen=True)
class Failure:
    """Why a deployment failed: an incident naming its artifact (the earliest), else the first
    strike of its service while it was the latest deployment."""

    cause: Literal["incident_names_artifact", "rollback", "incident_of_service"]
    at: datetime
    incident_id: str | None = None


@dataclass(frozen=True)
class LeadTime:
    """A change first deployed by one of a team's deployments, and whether its lead time
    counts."""

    change: Change
    first: Deployment

    @property
    def left_out(self) -> Literal["no_merge", "deployed_before_merge"] | None:
        merged = self.change.merged_at
        if merged is None:
            return "no_merge"
        return "deployed_before_merge" if self.first.at < merged else None

    @property
    def lead_time_h(self) -> float | None:
        merged = self.change.merged_at
        return None if merged is None or self.left_out else hours(self.first.at - merged)


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
    def strikes(self) -> dict[str, list[Strike]]:
        """By service, in order, what fails whichever deployment of the service is the latest
        by then: its rollbacks, and its incidents naming no artifact."""
        found: dict[str, list[Strike]] = {}
        for incident in self.incidents.values():
            if incident.artifact_id is None and incident.service_id is not None:
                found.setdefault(incident.service_id, []).append(
                    Strike(incident.detected_at, "incident_of_service", incident.incident_id)
                )
        for rollback in self.rollbacks:
            found.setdefault(rollback.service_id, []).append(Strike(rollback.at, "rollback"))
        for strikes in found.values():
            strikes.sort(key=lambda s: (s.at, s.cause, s.incident_id or ""))
        return found

    @cached_property
    def naming(self) -> dict[str, Incident]:
        """Each artifact a production incident names -> the earliest such incident."""
        found: dict[str, Incident] = {}
        for i in sorted(self.incidents.values(), key=lambda i: (i.detected_at, i.incident_id)):
            if i.artifact_id is not None:
                found.setdefault(i.artifact_id, i)
        return found


def _moment_and_key(d: Deployment) -> tuple[datetime, str]:
    return d.at, d.key


def team_deployments(window: CicdWindow, team: str, period: Period) -> list[Deployment]:
    """The team's production deployments in the period, in order."""
    return [
        d
        for d in window.deployments_between(period.start, period.end)
        if window.owner(d.service_id, d.at) == team
    ]


def delivery(window: CicdWindow, team: str, period: Period) -> tuple[Dora, TeamGaps]:
    """The team's DORA metrics for the period, and what they leave out."""
    ours = team_deployments(window, team, period)
    failed = [d for d in ours if failure(window, d) is not None]
    changes = lead_times(window, ours)
    measured = [h for c in changes if (h := c.lead_time_h) is not None]
    incidents = team_incidents(window, team, period)
    restore = [h for i in incidents if (h := restore_hours(i)) is not None]
    dora = Dora(
        deployments=len(ours),
        deployment_days=len({d.at.date() for d in ours}),
        lead_time_median_h=rounded(median(measured), 2),
        change_failure_rate=ratio(len(failed), len(ours)),
        restore_median_h=rounded(median(restore), 2),
        open_incidents=sum(1 for i in incidents if i.resolved_at is None),
    )
    gaps = TeamGaps(
        changes_without_merge=sum(1 for c in changes if c.left_out == "no_merge"),
        negative_lead_times=sum(1 for c in changes if c.left_out == "deployed_before_merge"),
        deployments_without_change=sum(
            1 for d in ours if not window.artifact_changes.get(d.artifact_id)
        ),
        incidents_resolved_before_detected=sum(
            1 for i in incidents if i.resolved_at is not None and i.resolved_at < i.detected_at
        ),
    )
    return dora, gaps


def failure(window: CicdWindow, d: Deployment) -> Failure | None:
    """Why the deployment failed, or None when it did not."""
    if (named := window.naming.get(d.artifact_id)) is not None:
        return Failure("incident_names_artifact", named.detected_at, named.incident_id)
    strikes = window.strikes.get(d.service_id, [])
    first = bisect_left(strikes, d.at, key=lambda s: s.at)
    after = window.following.get(d.key)
    if first < len(strikes) and (after is None or strikes[first].at < after.at):
        strike = strikes[first]
        return Failure(strike.cause, strike.at, strike.incident_id)
    return None


def lead_times(window: CicdWindow, ours: Iterable[Deployment]) -> list[LeadTime]:
    """The changes first deployed by one of `ours` (by change id), each with that first
    deployment; whether its lead time counts is the `LeadTime`'s to say."""
    keys = {d.key for d in ours}
    firsts = {
        change_id for d in ours for change_id in window.artifact_changes.get(d.artifact_id, ())
    }
    found = []
    for change_id in sorted(firsts):
        change = window.changes.get(change_id)
        first = change.first_deployment if change else None
        if change is None or first is None or first.key not in keys:
            continue  # first deployed elsewhere or at another time
        found.append(LeadTime(change, first))
    return found


def team_incidents(window: CicdWindow, team: str, period: Period) -> list[Incident]:
    """The team's production incidents (by their service's owner when detected) detected in
    the period, in order of detection."""
    return sorted(
        (
            i
            for i in window.incidents.values()
            if period.contains(i.detected_at) and window.owner(i.service_id, i.detected_at) == team
        ),
        key=lambda i: (i.detected_at, i.incident_id),
    )


def restore_hours(incident: Incident) -> float | None:
    """Hours from detection to resolution; None while open or when resolved before detected
    (left out of the restore time)."""
    resolved = incident.resolved_at
    if resolved is None or resolved < incident.detected_at:
        return None
    return hours(resolved - incident.detected_at)
