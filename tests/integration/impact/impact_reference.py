"""The figures of docs/impact.md computed from a history's plain facts by brute force, in exact
fractions and without the service's code: what the impact service must answer.

Where the service walks a service's deployments in order, this asks, for every rollback and
incident, which deployment was the last one before it; where the service keeps facts in
buckets, this filters the whole list each time."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from functools import cached_property
from typing import Any

from bench.cicd_facts import Fact
from shared.events.envelope import CloudEvent

Owners = dict[str, list[tuple[datetime | None, str]]]
"""service -> its owners in order, each from a moment (the first: None, from the beginning)."""


def bounds(key: str) -> tuple[datetime, datetime]:
    year = int(key[:4])
    if "Q" in key:
        first = 3 * int(key[-1]) - 2
        last = first + 2
    else:
        first = last = int(key[5:7])
    start = datetime(year, first, 1, tzinfo=UTC)
    end = datetime(year + last // 12, last % 12 + 1, 1, tzinfo=UTC)
    return start, end


def previous(key: str) -> str:
    year = int(key[:4])
    if "Q" in key:
        quarter = int(key[-1])
        return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
    month = int(key[5:7])
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def following(key: str) -> str:
    year = int(key[:4])
    quarter = int(key[-1])
    return f"{year + 1}-Q1" if quarter == 4 else f"{year}-Q{quarter + 1}"


def median(values: Sequence[Fraction]) -> Fraction | None:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def hours_between(start: datetime, end: datetime) -> Fraction:
    seconds = (end - start).days * 86400 + (end - start).seconds
    return Fraction(seconds, 3600)


def share(part: int, whole: int) -> Fraction:
    return Fraction(part, whole) if whole else Fraction(0)


@dataclass
class Reference:
    facts: list[Fact]
    domain: list[CloudEvent]
    owners: Owners
    production: frozenset[str]

    # --- ownership ---

    def owner_at(self, service: str | None, moment: datetime) -> str | None:
        if service is None or not self.owners.get(service):
            return None
        team = None
        for since, owner in self.owners[service]:
            if since is None or since <= moment:
                team = owner
        return team

    # --- the CI/CD facts, production only ---

    def _of(self, *kinds: str) -> list[Fact]:
        return [f for f in self.facts if f.kind in kinds and f.environment in self.production]

    @cached_property
    def deployments(self) -> list[Fact]:
        return self._of("deployed", "upgraded")

    @cached_property
    def detections(self) -> list[Fact]:
        """Each production incident at its first detection (a second one is the same incident)."""
        first: dict[str, Fact] = {}
        for f in sorted(self._of("detected"), key=lambda f: f.at):
            first.setdefault(f.subject, f)
        return list(first.values())

    @cached_property
    def strikes(self) -> list[tuple[str | None, datetime]]:
        """Rollbacks, and incidents naming a service but no artifact: (service, moment)."""
        rollbacks = [(r.subject, r.at) for r in self._of("rolledback")]
        incidents = [(i.service, i.at) for i in self.detections if i.artifact is None]
        return rollbacks + incidents

    @cached_property
    def packaged(self) -> dict[str, set[str]]:
        """artifact -> the changes it was packaged from."""
        found: dict[str, set[str]] = {}
        for f in self.facts:
            if f.kind == "packaged" and f.change:
                found.setdefault(f.subject, set()).add(f.change)
        return found

    def last_deployment_at_or_before(self, service: str, moment: datetime) -> Fact | None:
        earlier = [d for d in self.deployments if d.subject == service and d.at <= moment]
        return max(earlier, key=lambda d: d.at) if earlier else None

    def failed(self, deployment: Fact) -> bool:
        if any(i.artifact == deployment.artifact for i in self.detections):
            return True
        return any(
            self.last_deployment_at_or_before(service, moment) == deployment
            for service, moment in self.strikes
            if service == deployment.subject
        )

    def packaged_from(self, artifact: str | None) -> set[str]:
        return self.packaged.get(artifact or "", set())

    def first_deployment(self, change: str) -> Fact | None:
        theirs = [d for d in self.deployments if change in self.packaged_from(d.artifact)]
        return min(theirs, key=lambda d: d.at) if theirs else None

    def merged_at(self, change: str) -> datetime | None:
        merges = [f.at for f in self.facts if f.kind == "merged" and f.subject == change]
        return min(merges) if merges else None

    def resolved_at(self, incident: str) -> datetime | None:
        times = [f.at for f in self.facts if f.kind == "resolved" and f.subject == incident]
        return min(times) if times else None

    def dora(self, team: str, key: str) -> dict[str, Any]:
        start, end = bounds(key)
        ours = [
            d
            for d in self.deployments
            if start <= d.at < end and self.owner_at(d.subject, d.at) == team
        ]
        changes = {c for d in ours for c in self.packaged_from(d.artifact)}
        lead_times, without_merge, negative = [], 0, 0
        for change in sorted(changes):
            first = self.first_deployment(change)
            if first is None or first not in ours:
                continue
            merged = self.merged_at(change)
            if merged is None:
                without_merge += 1
            elif first.at < merged:
                negative += 1
            else:
                lead_times.append(hours_between(merged, first.at))
        restore, still_open, reversed_ = [], 0, 0
        for incident in self.detections:
            if (
                not start <= incident.at < end
                or self.owner_at(incident.service, incident.at) != team
            ):
                continue
            resolved = self.resolved_at(incident.subject)
            if resolved is None:
                still_open += 1
            elif resolved < incident.at:
                reversed_ += 1
            else:
                restore.append(hours_between(incident.at, resolved))
        return {
            "dora": {
                "deployments": len(ours),
                "deployment_days": len({d.at.date() for d in ours}),
                "lead_time_median_h": median(lead_times),
                "change_failure_rate": share(sum(self.failed(d) for d in ours), len(ours)),
                "restore_median_h": median(restore),
                "open_incidents": still_open,
            },
            "team_gaps": {
                "changes_without_merge": without_merge,
                "negative_lead_times": negative,
                "deployments_without_change": sum(
                    1 for d in ours if not self.packaged_from(d.artifact)
                ),
                "incidents_resolved_before_detected": reversed_,
            },
        }

    def platform_gaps(self, key: str) -> dict[str, int]:
        start, end = bounds(key)
        named = {
            f.subject if f.kind in ("deployed", "upgraded", "rolledback") else f.service
            for f in self.facts
            if f.kind in ("deployed", "upgraded", "rolledback", "detected") and start <= f.at < end
        }
        return {
            "incidents_without_service": sum(
                1 for i in self.detections if i.service is None and start <= i.at < end
            ),
            "services_without_owner": sum(
                1 for s in named if s is not None and not self.owners.get(s)
            ),
        }

    # --- people ---

    def _events(self, event_type: str) -> Iterable[tuple[datetime, dict[str, Any]]]:
        return ((e.time, e.data) for e in self.domain if e.type == event_type)

    def team_of(self, member: str, moment: datetime, *, strictly_before: bool = False) -> str:
        changes = sorted(
            (when, data["team"])
            for when, data in self._events("cop.member.profile_updated.v1")
            if data["member_id"] == member
            and (when < moment if strictly_before else when <= moment)
        )
        return changes[-1][1] if changes else ""

    def participation(self, team: str, key: str) -> dict[str, Any]:
        start, end = bounds(key)
        everyone = {d["member_id"] for _, d in self._events("cop.member.profile_updated.v1")}
        members = {m for m in everyone if self.team_of(m, end, strictly_before=True) == team}
        first_attendance: dict[tuple[str, str], datetime] = {}
        for when, session in self._events("cop.session.held.v1"):
            for m in session["attendee_ids"]:
                pair = (m, session["session_id"])
                first_attendance[pair] = min(when, first_attendance.get(pair, when))
        in_period = {pair: t for pair, t in first_attendance.items() if start <= t < end}
        attending = {m for m in members if any(p[0] == m for p in in_period)}
        authored = {
            data["artifact_id"]
            for when, data in self._events("cop.artifact.published.v1")
            if start <= when < end
            and any(self.team_of(a, when) == team for a in data["author_ids"])
        }
        return {
            "members": len(members),
            "attending_members": len(attending),
            "participation_share": share(len(attending), len(members)),
            "sessions_attended": sum(
                1 for (m, _), t in in_period.items() if self.team_of(m, t) == team
            ),
            "artifacts_authored": len(authored),
            "reuses_by_team": sum(
                1
                for when, data in self._events("cop.artifact.reused.v1")
                if start <= when < end and data["team"] == team
            ),
            "kudos_received": sum(
                1
                for when, data in self._events("cop.kudos.judged.v1")
                if start <= when < end
                for r in data["recipients"]
                if r["verdict"] == "counted" and self.team_of(r["member_id"], when) == team
            ),
        }

    # --- what the service answers ---

    def report(self, team: str, key: str) -> dict[str, Any]:
        delivery = self.dora(team, key)
        return {
            "period": key,
            "dora": delivery["dora"],
            "participation": self.participation(team, key),
            "data_quality": {**delivery["team_gaps"], **self.platform_gaps(key)},
        }

    def impact(self, team: str, key: str) -> dict[str, Any]:
        before = self.report(team, previous(key))
        return {
            **self.report(team, key),
            "team": team,
            "previous": {k: before[k] for k in ("period", "dora", "participation")},
        }


DECIMALS = {"lead_time_median_h": 2, "restore_median_h": 2}
"""Hours have 2 decimals; shares and rates 4."""


def assert_matches(actual: Any, expected: Any, where: str = "") -> None:
    """The service's answer is the reference's, its fractions rounded (either way at a tie)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), f"{where}: {sorted(actual)} != {sorted(expected)}"
        for name, value in expected.items():
            assert_matches(actual[name], value, f"{where}.{name}")
    elif isinstance(expected, Fraction):
        decimals = DECIMALS.get(where.rsplit(".", 1)[-1], 4)
        assert actual is not None, where
        assert abs(Fraction(str(actual)) - expected) <= Fraction(1, 2 * 10**decimals), (
            f"{where}: {actual} != {float(expected)}"
        )
        assert round(actual, decimals) == actual, f"{where}: {actual} has too many decimals"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
