"""Asking the impact service, one request at a time: a team's month, a team's quarter, a team's
12-month trend (teams and periods drawn at random) and the association of a quarter. Each answer's
deployments and deployment days are compared with the history's own count."""

import random
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import httpx

from bench.harness import Checks, Latency, get_json
from bench.impact.history import History, ImpactSizes
from bench.recognition_health.periods import period_range
from bench.report import row

GOAL_MS = 50.0
"""p95 of the team and trend endpoints."""
WARM_UP = 3  # requests per endpoint before the timed ones
SLOW = (
    "figures are computed when asked, from the window's facts read by _id: per production "
    "deployment its artifact and its change (two documents), the service-months, the platform's "
    "months and services for data quality; about 0.05 ms a document on mongo-java-server, in "
    "about ten round trips one after the other, then the figures in Python"
)
Check = Callable[[str, dict[str, Any]], None]


class Expected:
    """What a team's answer for a period must count, from the history alone."""

    def __init__(self, history: History, checks: Checks) -> None:
        self.history, self.checks = history, checks

    def period(self, team: str, key: str, dora: dict[str, Any]) -> None:
        _, start, end = period_range(key)
        months = [m for m in self.history.months if start <= period_range(m)[1] < end]
        deployments = sum(self.history.deployments[team, m] for m in months)
        days: set[date] = set()
        for m in months:
            days |= self.history.deployment_days.get((team, m), set())
        where = f"{team} {key}"
        self.checks.equal("deployments", where, dora.get("deployments"), deployments)
        self.checks.equal("deployment_days", where, dora.get("deployment_days"), len(days))

    def impact(self, team: str, answer: dict[str, Any]) -> None:
        self.period(team, str(answer.get("period")), answer.get("dora") or {})

    def trend(self, team: str, answer: dict[str, Any]) -> None:
        listed = answer.get("months") or []
        got = [m.get("period") for m in listed]
        self.checks.equal("trend months", f"{team} trend", got, self.history.months)
        for month in listed:
            self.period(team, str(month.get("period")), month.get("dora") or {})

    def association(self, _: str, answer: dict[str, Any]) -> None:
        listed = {t.get("team") for t in answer.get("teams") or []}
        expected = {t.name for t in self.history.teams}
        self.checks.equal("association teams", f"association {answer.get('quarter')}", listed,
                          expected)  # fmt: skip


async def timed(
    client: httpx.AsyncClient,
    paths: Sequence[tuple[str, str]],  # (team, path)
    budget_s: float,
    check: Check,
    warm_up: int = WARM_UP,
) -> Latency:
    """GET each path in turn (the first `warm_up` untimed), until the budget is spent; each
    answer checked."""
    for team, path in paths[:warm_up]:
        check(team, await get_json(client, path))
    latency = Latency()
    deadline = time.perf_counter() + budget_s
    for team, path in paths:
        check(team, await get_json(client, path, latency))
        if time.perf_counter() > deadline:
            break
    return latency


def drawn(rng: random.Random, choices: Sequence[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    """`n` of the choices, shuffled, each as often as the others (give or take one)."""
    order = list(choices)
    rng.shuffle(order)
    return [order[i % len(order)] for i in range(n)]


async def measure(url: str, history: History, sizes: ImpactSizes) -> dict[str, Any]:
    rng = random.Random(sizes.seed)
    checks = Checks()
    expected = Expected(history, checks)
    teams = [t.name for t in history.teams]
    months, quarters = history.months, history.quarters
    trend = f"impact/trend?from={months[0]}&to={months[-1]}"
    asked = {
        "GET /teams/{team}/impact?period=YYYY-MM": (
            drawn(rng, [(t, f"/teams/{t}/impact?period={m}") for t in teams for m in months],
                  sizes.requests),
            expected.impact,
        ),
        "GET /teams/{team}/impact?period=YYYY-Qn": (
            drawn(rng, [(t, f"/teams/{t}/impact?period={q}") for t in teams for q in quarters],
                  sizes.requests),
            expected.impact,
        ),
        f"GET /teams/{{team}}/impact/trend ({len(months)} months)": (
            drawn(rng, [(t, f"/teams/{t}/{trend}") for t in teams], sizes.requests),
            expected.trend,
        ),
        "GET /impact/association?quarter=YYYY-Qn (every team)": (
            drawn(rng, [("", f"/impact/association?quarter={q}") for q in quarters],
                  max(5, sizes.requests // 10)),
            expected.association,
        ),
    }  # fmt: skip
    rows, goals = [], []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for label, (paths, check) in asked.items():
            every_team = "association" in label  # seconds a request: one warm-up is enough
            latency = await timed(
                client, paths, sizes.budget_s, check, 1 if every_team else WARM_UP
            )
            rows.append(row(label, latency.row(), "ms p50 / p95 / p99 (requests)"))
            if every_team:
                continue
            p95 = latency.percentile(95)
            goals.append(
                {
                    "goal": f"{label}: p95 ≤ {GOAL_MS:.0f} ms",
                    "measured": f"{p95:.1f} ms",
                    "met": p95 <= GOAL_MS,
                    "why": "" if p95 <= GOAL_MS else SLOW,
                }
            )
    rows.append(
        row(
            "answers agreeing with the history's own count", f"{checks.passed} of {checks.compared}"
        )
    )
    if checks.wrong:
        rows.append(row("first disagreements", "; ".join(checks.wrong[:5])))
    return {"rows": rows, "goals": goals, "notes": []}
