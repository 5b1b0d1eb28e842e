"""The performance targets the platform is measured against, each defined once.

A benchmark that measures a target judges it with `Target.judge` and returns the verdict among
its section's goals; `summary` lists every target of a run, the ones no part of the run measured
included (with the option that measures them), so that the results show each target as met, not
met, or not measured.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    key: str
    goal: str
    limit: float
    unit: str
    at_least: bool  # met at or above the limit (a rate), else at or below it (a latency)
    measured_by: str  # the part of `python -m bench` that measures it

    def met(self, measured: float) -> bool:
        return measured >= self.limit if self.at_least else measured <= self.limit

    def judge(self, measured: float, *, detail: str = "", why: str = "") -> dict[str, Any]:
        """The goal's verdict: `why` (the measured reason) is kept only when it is not met."""
        met = self.met(measured)
        shown = f"{measured:,.0f}" if abs(measured) >= 100 else f"{measured:,.1f}"
        return {
            "goal": self.goal,
            "measured": f"{shown} {self.unit}" + (f" ({detail})" if detail else ""),
            "met": met,
            "why": "" if met else why,
            "target": self.key,
        }


def _targets(*targets: Target) -> dict[str, Target]:
    return {t.key: t for t in targets}


TARGETS = _targets(
    Target(
        "consumer_us",
        "shared consumer + message bus ≤ 15 µs CPU an event (no-op handler, 1 trace in 10 sampled)",
        15,
        "µs",
        False,
        "the shared consumer (--skip-consumer leaves it out)",
    ),
    Target(
        "recognition_replay",
        "recognition replay ≥ 3,000 events/s (10-90 % stretch)",
        3_000,
        "events/s",
        True,
        "projections",
    ),
    Target(
        "recognition_vs_naive",
        "recognition replay ≥ 5x the naive FastStream consumer",
        5,
        "x",
        True,
        "projections and the naive baseline",
    ),
    Target(
        "events_replay",
        "events replay ≥ 3,000 events/s (10-90 % stretch)",
        3_000,
        "events/s",
        True,
        "projections",
    ),
    Target(
        "notifier_replay",
        "notifier replay ≥ 4,000 events/s (10-90 % stretch)",
        4_000,
        "events/s",
        True,
        "projections",
    ),
    Target(
        "e2e_p99",
        "e2e p99 ≤ 100 ms at 200 kudos/s",
        100,
        "ms",
        False,
        "end-to-end latency",
    ),
    Target(
        "kudos_held",
        "≥ 400 kudos/s held without the backlog growing",
        400,
        "kudos/s",
        True,
        "end-to-end latency",
    ),
    Target(
        "notifier_posts",
        "notifier ≥ 1,000 webhook posts/s",
        1_000,
        "posts/s",
        True,
        "notifier fan-out",
    ),
    Target(
        "notifier_emails",
        "notifier ≥ 500 e-mails/s",
        500,
        "e-mails/s",
        True,
        "notifier fan-out",
    ),
    Target(
        "knowledge_indexing",
        "knowledge search index ≥ 2,000 events/s (10-90 % of its events), flat as it grows",
        2_000,
        "events/s",
        True,
        "knowledge search (--search)",
    ),
    Target(
        "search_p95",
        "GET /search p95 ≤ 20 ms at 10,000 artifacts (≤ 60 ms at 100,000)",
        20,
        "ms",
        False,
        "knowledge search (--search)",
    ),
    Target(
        "related_p95",
        "GET /artifacts/{id}/related p95 ≤ 30 ms",
        30,
        "ms",
        False,
        "knowledge search (--search)",
    ),
    Target(
        "health_p95",
        "GET health of a month or quarter p95 ≤ 30 ms",
        30,
        "ms",
        False,
        "recognition health (--health)",
    ),
    Target(
        "trend_p95",
        "GET health/trend p95 ≤ 50 ms",
        50,
        "ms",
        False,
        "recognition health (--health)",
    ),
    Target(
        "leaderboard_p95",
        "GET leaderboard p95 ≤ 10 ms",
        10,
        "ms",
        False,
        "recognition health (--health)",
    ),
    Target(
        "ingest_batches",
        "POST /ingest ≥ 2,000 events/s in batches of 100",
        2_000,
        "events/s",
        True,
        "ingest",
    ),
    Target(
        "ingest_single_p99",
        "POST /ingest single events p99 ≤ 50 ms at 16 clients",
        50,
        "ms",
        False,
        "ingest",
    ),
)


def summary(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target's verdict in this run, in the order they are defined; `met` is None for a
    target that no part of the run measured."""
    judged = {
        goal["target"]: goal
        for section in sections
        for goal in section.get("goals", [])
        if "target" in goal
    }
    return [
        judged.get(key)
        or {
            "goal": target.goal,
            "measured": "not measured in this run",
            "met": None,
            "why": f"measured by: {target.measured_by}",
        }
        for key, target in TARGETS.items()
    ]
