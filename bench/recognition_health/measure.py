"""Asking the service: every health period, the trend, the leaderboards (also rebuilt from the
ledger), the alerts and the profiles; each answer compared with the reference, each endpoint
timed."""

import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from bench.harness import Checks, Latency, get_json
from bench.recognition_health import reference
from bench.recognition_health.history import HealthSizes, History
from bench.recognition_health.periods import (
    Period,
    month_of,
    period_range,
    periods_between,
    quarter_of,
    week_of,
)
from bench.targets import TARGETS
from shared.community_health import METRICS

LEADERBOARD_PERIODS = ("all", "month", "quarter", "week")
REBUILDS_PER_PERIOD = 3
COLUMNS = "ms p50 / p95 / max (requests)"


class Asking:
    """One service, one history: the requests' budget, the order they are asked in, the checks."""

    def __init__(
        self, client: httpx.AsyncClient, history: History, sizes: HealthSizes, rng: random.Random
    ) -> None:
        self.client, self.history, self.sizes, self.rng = client, history, sizes, rng
        self.checks = Checks()
        self.base = f"/communities/{history.community}"
        self.p95_ms: dict[str, float] = {}  # the worst p95 of each target's requests

    def goals(self) -> list[dict[str, Any]]:
        return [TARGETS[key].judge(p95) for key, p95 in self.p95_ms.items()]

    def cycle(self, items: Sequence[str]) -> list[str]:
        """`sizes.requests` paths: the items shuffled, repeated as often as it takes."""
        order = list(items)
        self.rng.shuffle(order)
        return [order[i % len(order)] for i in range(self.sizes.requests)]

    async def timed_gets(
        self, paths: Sequence[str], target: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """GET each path, stopping when the budget is spent; the latency row and the first answer
        to each path. Their p95 counts towards `target` (the worst of its requests' p95s)."""
        latency, answers = Latency(), dict[str, Any]()
        deadline = time.perf_counter() + self.sizes.budget_s
        for path in paths:
            answers.setdefault(path, await get_json(self.client, path, latency))
            if time.perf_counter() > deadline:
                break
        if target is not None and latency.samples:
            p95 = latency.percentile(95)
            self.p95_ms[target] = max(p95, self.p95_ms.get(target, 0.0))
        return latency.row(worst=True), answers


async def measure(
    client: httpx.AsyncClient,
    redis: Redis,
    history: History,
    sizes: HealthSizes,
    rng: random.Random,
) -> dict[str, Any]:
    asking = Asking(client, history, sizes, rng)
    last = history.end - timedelta(microseconds=1)
    months = periods_between(history.start, last, month_of)
    quarters = periods_between(history.start, last, quarter_of)
    row: dict[str, Any] = {}
    row.update(await health_periods(asking, months, quarters))
    row.update(await trend(asking, months))
    row.update(await leaderboards(asking, redis))
    row.update(await alerts(asking))
    paths = asking.cycle(
        [f"/members/{m.id}/profile?community={history.community}" for m in history.members]
    )
    row[f"GET /members/{{id}}/profile?community=, {COLUMNS}"], _ = await asking.timed_gets(paths)
    row.update(agreement(asking.checks))
    row["goals"] = asking.goals()
    return row


async def health_periods(
    asking: Asking, months: list[Period], quarters: list[Period]
) -> dict[str, Any]:
    """`/health` of every month, then of every quarter."""
    row: dict[str, Any] = {}
    for label, periods in (("YYYY-MM", months), ("YYYY-Qn", quarters)):
        paths = asking.cycle([f"{asking.base}/health?period={p[0]}" for p in periods])
        row[f"GET health?period={label}, {COLUMNS}"], answers = await asking.timed_gets(
            paths, "health_p95"
        )
        for answer in answers.values():
            check_health(asking.checks, asking.history, answer)
    return row


async def trend(asking: Asking, months: list[Period]) -> dict[str, Any]:
    """`/health/trend` over the whole history: its months, and every metric of each."""
    path = f"{asking.base}/health/trend?from={months[0][0]}&to={months[-1][0]}"
    timing, answers = await asking.timed_gets([path] * asking.sizes.requests, "trend_p95")
    series = answers[path].get("months", [])
    got = [m.get("period") for m in series]
    asking.checks.equal("trend months", "trend months", got, [m[0] for m in months])
    for month, (key, start, end) in zip(series, months, strict=False):
        expected = reference.metrics(asking.history, start, end)
        check_metrics(asking.checks, f"trend {key}", month.get("metrics", {}), expected)
    return {f"GET health/trend ({len(months)} months), {COLUMNS}": timing}


async def leaderboards(asking: Asking, redis: Redis) -> dict[str, Any]:
    """Each period's leaderboard, first rebuilt from the ledger (its Redis keys deleted) a few
    times, then as it is."""
    history, checks = asking.history, asking.checks
    now = datetime.now(UTC)
    of_kind = {"month": month_of, "quarter": quarter_of, "week": week_of}
    found = await leaderboard_keys(redis, history.community)
    row: dict[str, Any] = {
        "leaderboard keys in Redis for the community": (
            f"{len(found)}, e.g. {found[0]}" if found else "none found (cannot time a rebuild)"
        )
    }
    for period in LEADERBOARD_PERIODS:
        if period == "all":
            key, start, end = "all", history.start - timedelta(days=1), now + timedelta(days=1)
        else:
            key, start, end = of_kind[period](now)
        expected = reference.leaderboard(history, start, end)
        path = f"{asking.base}/leaderboard?period={period}&limit=10"
        rebuild = Latency()
        for _ in range(REBUILDS_PER_PERIOD if found else 0):
            for k in await leaderboard_keys(redis, history.community):
                await redis.delete(k)
            began = time.perf_counter()
            response = await asking.client.get(path)
            rebuild.samples.append(time.perf_counter() - began)
            where = f"leaderboard {period} (rebuilt)"
            check_leaderboard(checks, where, response.json(), key, expected)
        if rebuild.samples:
            row[f"GET leaderboard?period={period} after emptying Redis, {COLUMNS}"] = rebuild.row(
                worst=True
            )
        timing, answers = await asking.timed_gets([path] * asking.sizes.requests, "leaderboard_p95")
        row[f"GET leaderboard?period={period}, {COLUMNS}"] = timing
        check_leaderboard(checks, f"leaderboard {period}", answers[path], key, expected)
    return row


async def alerts(asking: Asking) -> dict[str, Any]:
    answer = (await asking.client.get(f"{asking.base}/alerts")).json()
    raised = sorted([a.get("period"), a.get("alert")] for a in answer.get("alerts", []))
    expected = reference.alerts(asking.history, datetime.now(UTC))
    asking.checks.equal("alerts", "alerts raised", raised, expected)
    return {"alerts raised": ", ".join(f"{p} {a}" for p, a in raised) or "none"}


def check_metrics(
    checks: Checks, where: str, got: dict[str, Any], expected: dict[str, float]
) -> None:
    for name in METRICS:
        value = got.get(name)
        ok = isinstance(value, int | float) and abs(value - expected[name]) <= 1e-4
        checks.that(ok, f"{where} {name}: service {value}, expected {expected[name]}", name)


def check_health(checks: Checks, history: History, answer: dict[str, Any]) -> None:
    """A `/health` answer: its period and the previous one, every metric of both."""
    for block in (answer, answer.get("previous") or {}):
        key = block.get("period")
        if not isinstance(key, str) or not isinstance(block.get("metrics"), dict):
            checks.equal(
                "shape", f"health {answer.get('period')}", sorted(block), "period, metrics"
            )
            continue
        _, start, end = period_range(key)
        if "start" in block:
            got = datetime.fromisoformat(str(block["start"]).replace("Z", "+00:00"))
            checks.equal("start", f"health {key} start", got, start)
        expected = reference.metrics(history, start, end)
        check_metrics(checks, f"health {key}", block["metrics"], expected)


def check_leaderboard(
    checks: Checks, where: str, answer: dict[str, Any], key: str, expected: list[list[Any]]
) -> None:
    listed = answer.get("entries", [])
    checks.equal("leaderboard period", f"{where} period", answer.get("period"), key)
    entries = [[e.get("member_id"), e.get("score")] for e in listed]
    positive = [e for e in entries if (e[1] or 0) > 0]
    checks.equal("leaderboard entries", f"{where} entries", positive, expected)
    ranks = [e.get("rank") for e in listed]
    checks.equal("leaderboard ranks", f"{where} ranks", ranks, list(range(1, len(listed) + 1)))


def agreement(checks: Checks) -> dict[str, Any]:
    worst = ", ".join(f"{m} ({n})" for m, n in checks.by_subject.most_common())
    return {
        "answers agreeing with the generator's own computation": (
            f"{checks.passed} of {checks.compared}"
        ),
        "disagreeing, by metric (count)": worst or "none",
        "first disagreements": "; ".join(checks.wrong[:6]) or "none",
    }


async def leaderboard_keys(redis: Redis, community: str) -> list[str]:
    keys = [str(k) async for k in redis.scan_iter(match=f"*{community}*", count=1000)]
    return [k for k in keys if "leader" in k or "board" in k]
