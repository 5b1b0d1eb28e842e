"""The facts behind one of a team's figures for a period, by the same rules that count them
(`delivery.py`): its deployments (each with the changes it carries and, when it failed, why),
its failed deployments alone, the changes it first deployed (with their lead time, or why it is
left out), and its production incidents (with their restore time, or why there is none).
"""

from datetime import datetime
from typing import Final, Literal

from services.impact.domain.delivery import (
    CicdWindow,
    Deployment,
    Incident,
    LeadTime,
    failure,
    lead_times,
    restore_hours,
    team_deployments,
    team_incidents,
)
from services.impact.domain.periods import Period
from services.impact.domain.stats import rounded
from shared.documents import Doc

Metric = Literal["deployments", "failures", "lead_time", "incidents"]
METRICS: Final[tuple[Metric, ...]] = ("deployments", "failures", "lead_time", "incidents")


def facts_behind(window: CicdWindow, team: str, period: Period, metric: Metric) -> list[Doc]:
    """The facts behind the metric, in order of time."""
    if metric == "incidents":
        return [_incident(i) for i in team_incidents(window, team, period)]
    ours = team_deployments(window, team, period)
    if metric == "lead_time":
        changes = sorted(lead_times(window, ours), key=lambda c: (c.first.at, c.change.change_id))
        return [_change(c) for c in changes]
    shown = [_deployment(window, d) for d in ours]
    if metric == "failures":
        return [d for d in shown if d["failure"] is not None]
    return shown


def _deployment(window: CicdWindow, d: Deployment) -> Doc:
    failed = failure(window, d)
    return {
        "kind": "deployment",
        "at": d.at,
        "service_id": d.service_id,
        "artifact_id": d.artifact_id,
        "changes": window.artifact_changes.get(d.artifact_id, []),
        "failure": None
        if failed is None
        else {"cause": failed.cause, "at": failed.at, "incident_id": failed.incident_id},
    }


def _change(c: LeadTime) -> Doc:
    return {
        "kind": "change",
        "change_id": c.change.change_id,
        "merged_at": c.change.merged_at,
        "first_deployed_at": c.first.at,
        "service_id": c.first.service_id,
        "artifact_id": c.first.artifact_id,
        "lead_time_h": rounded(c.lead_time_h, 2),
        "left_out": c.left_out,
    }


def _incident(i: Incident) -> Doc:
    return {
        "kind": "incident",
        "incident_id": i.incident_id,
        "service_id": i.service_id,
        "artifact_id": i.artifact_id,
        "detected_at": i.detected_at,
        "resolved_at": i.resolved_at,
        "restore_h": rounded(restore_hours(i), 2),
        "status": _status(i.detected_at, i.resolved_at),
    }


def _status(detected: datetime, resolved: datetime | None) -> str:
    if resolved is None:
        return "open"
    return "resolved_before_detected" if resolved < detected else "resolved"
