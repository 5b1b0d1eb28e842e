"""What the contract says a history adds up to: every health metric of a period, the alerts and
the leaderboards, computed from the generator's own records, not by the service's code."""

import math
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from bench.recognition_health.history import History
from bench.recognition_health.periods import month_of, periods_between


def metrics(history: History, start: datetime, end: datetime) -> dict[str, float]:
    """Every health metric of [start, end), as the contract defines it."""

    def within(at: datetime) -> bool:
        return start <= at < end

    members = {
        m.id for m in history.members if m.joined < end and (m.left is None or m.left >= end)
    }
    entries = [e for e in history.ledger if within(e.at)]
    active = {e.member for e in entries}
    recent = {e.member for e in history.ledger if end - timedelta(days=90) <= e.at < end}
    held = [h for h in history.held if within(h.at)]
    attended: Counter[str] = Counter(a for h in held for a in h.attendees)
    consistent = sum(1 for m in members if held and 2 * attended[m] >= len(held))
    teams = {m.id: m for m in history.members}
    reuses = [r for r in history.reuses if within(r[0])]
    cross_reuses = sum(
        1 for at, team, authors in reuses if team not in {teams[a].team_at(at) for a in authors}
    )
    cross_sessions = 0
    for h in held:
        people = {h.facilitator, *h.speakers, *h.attendees}
        known = {teams[p].team_at(h.at) for p in people} - {""}
        cross_sessions += len(known) >= 2
    gives: Counter[str] = Counter()
    for e in entries:
        if e.give:
            gives[e.member] += e.give
    points = sorted(gives.values(), reverse=True)
    total, absence, running = sum(points), 0, 0
    for p in points:
        if total and running * 2 < total:
            running += p
            absence += 1
    top = sum(points[: math.ceil(0.2 * len(points))])
    last6 = [h for h in history.held if h.at < end][-6:]
    ratings = [(r, applied) for at, r, applied in history.feedback if within(at)]
    opened = [i for i, at in history.opened.items() if within(at)]
    closed = [i for i in opened if i in history.closed and history.closed[i] < end]
    return {
        "members": len(members),
        "new_members": sum(1 for m in history.members if within(m.joined)),
        "active_members": len(members & active),
        "participation_rate": _ratio(len(members & active), len(members)),
        "inactive_members": len(members - recent),
        "sessions_held": len(held),
        "avg_attendance": _ratio(sum(len(h.attendees) for h in held), len(held)),
        "attendance_consistency": _ratio(consistent, len(members) if held else 0),
        "artifacts_published": sum(1 for at in history.published if within(at)),
        "reuses": len(reuses),
        "cross_team_reuses": cross_reuses,
        "cross_team_sessions": cross_sessions,
        "absence_factor": absence,
        "top20_share": _ratio(top, total),
        "facilitators_last6": len({h.facilitator for h in last6}),
        "sessions_last6": len(last6),
        "avg_rating": _ratio(sum(r for r, _ in ratings), len(ratings)),
        "applied_share": _ratio(sum(1 for _, a in ratings if a), len(ratings)),
        "action_closure_rate": _ratio(len(closed), len(opened)),
        "contributors_with_give": len(gives),
    }


def alerts(history: History, now: datetime) -> list[list[str]]:
    """[period, alert] of every month that ended by `now`, as the contract defines them."""
    months = periods_between(history.start, now, month_of)
    numbers = [metrics(history, start, end) for _, start, end in months]
    raised = []
    for i, (key, _, end) in enumerate(months):
        if end > now:
            continue
        m = numbers[i]
        trend = [0.0] * max(0, 3 - i) + [
            n["avg_attendance"] for n in numbers[max(0, i - 3) : i + 1]
        ]
        if all(a > b for a, b in pairwise(trend)):
            raised.append([key, "stagnation"])
        if m["top20_share"] > 0.8 and m["contributors_with_give"] >= 5:
            raised.append([key, "dominance"])
        if m["facilitators_last6"] == 1 and m["sessions_last6"] >= 4:
            raised.append([key, "single_facilitator"])
    return sorted(raised)


def leaderboard(
    history: History, start: datetime, end: datetime, limit: int = 10
) -> list[list[Any]]:
    """[member, score] of the top `limit` in [start, end): the points given, 2 a counted kudos
    received."""
    score: Counter[str] = Counter()
    for e in history.ledger:
        if start <= e.at < end and e.give:
            score[e.member] += e.give
    for at, member in history.received:
        if start <= at < end:
            score[member] += 2
    ranked = sorted((m for m in score if score[m] > 0), key=lambda m: (-score[m], m))
    return [[m, score[m]] for m in ranked[:limit]]


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0
