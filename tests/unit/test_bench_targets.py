"""The benchmark's targets: judged where measured, listed as not measured where not."""

from typing import Any

from bench.report import render
from bench.targets import TARGETS, summary


def test_a_rate_is_met_at_or_above_its_limit_and_a_latency_at_or_below() -> None:
    rate, latency = TARGETS["ingest_batches"], TARGETS["search_p95"]
    assert rate.judge(2_000)["met"]
    assert not rate.judge(1_999.9)["met"]
    assert latency.judge(20)["met"]
    assert not latency.judge(20.1)["met"]


def test_the_reason_is_kept_only_for_a_target_not_met() -> None:
    target = TARGETS["notifier_posts"]
    assert target.judge(300, why="the server is busy")["why"] == "the server is busy"
    assert target.judge(1_200, why="the server is busy")["why"] == ""


def test_every_target_is_listed_in_order_the_unmeasured_ones_as_such() -> None:
    measured = TARGETS["events_replay"].judge(1_274, detail="10,000 events")
    sections = [{"title": "projections", "rows": [], "goals": [measured]}]
    listed = summary(sections)
    assert [g["goal"] for g in listed] == [t.goal for t in TARGETS.values()]
    by_goal = {g["goal"]: g for g in listed}
    assert by_goal[TARGETS["events_replay"].goal] is measured
    unmeasured = by_goal[TARGETS["health_p95"].goal]
    assert unmeasured["met"] is None
    assert "--health" in unmeasured["why"]


def test_the_report_shows_the_targets_apart_from_the_other_goals() -> None:
    other = {"goal": "events idle RSS ≤ 120 MB", "measured": "97 MB", "met": True, "why": ""}
    results: dict[str, Any] = {
        "when": "2026-12-07T00:00:00+00:00",
        "mode": "QUICK",
        "repeats": 1,
        "machine": {"cores": 2, "cpu": "x", "memory_gb": 4, "os": "Linux", "python": "3.11"},
        "versions": {"kafka": "4", "mongodb": "m", "redis": "8", "libraries": {}},
        "sections": [
            {"title": "ingest", "rows": [], "goals": [TARGETS["ingest_batches"].judge(2_572)]},
            {"title": "projections", "rows": [], "goals": [other]},
        ],
    }
    text = render(results)
    targets, others = text.split("## Other goals")
    assert "1 met of the 1 this run measured" in targets
    assert "POST /ingest ≥ 2,000 events/s in batches of 100 | 2,572 events/s | yes" in targets
    assert targets.count("| not measured |") == len(TARGETS) - 1
    assert "events idle RSS" in others
    assert "events idle RSS" not in targets
