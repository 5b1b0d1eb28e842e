"""The rows and goals of a run: per rate its latency percentiles, answers, verdict, load generator
lateness, CPU and lag; the search steps; the highest rate held; why the goal was missed."""

import math
from typing import Any

from bench.e2e_latency.rates import Measurement, Plan
from bench.e2e_latency.window import Window, median_of_parts, percentile
from bench.targets import TARGETS

GOAL_RATE = 200  # kudos/s: the rate of the e2e p99 target


def _latency(w: Window, parts: int, q: float) -> float | str:
    value = median_of_parts(w, parts, q)
    if math.isinf(value):
        return f"> {w.at_least_ms(q):.0f} ({w.missing()} never posted)"
    return round(value, 1)


def _cpu(shares: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))


def _window_rows(w: Window, parts: int, label: str) -> list[dict[str, Any]]:
    answered = [(s.answered - s.due) * 1000 for s in w.accepted]
    late = [(s.sent - s.due) * 1000 for s in w.sent if not math.isnan(s.sent)]
    held, why = w.verdict()
    rows: list[dict[str, Any]] = [
        {
            "metric": f"e2e latency at {label}, p{q}",
            "value": _latency(w, parts, q / 100),
            "unit": "ms",
        }
        for q in (50, 95, 99)
    ]
    rows += [
        {
            "metric": f"POST /kudos answered at {label}, p50 / p99",
            "value": f"{percentile(answered, 0.5):.1f} / {percentile(answered, 0.99):.1f}",
            "unit": "ms after the kudos was due",
        },
        {
            "metric": f"kudos sent / accepted / posted at {label}",
            "value": f"{len(w.sent)} / {len(w.accepted)} / {len(w.posted)}",
            "unit": "kudos",
        },
        {"metric": f"held at {label}", "value": "yes" if held else "no", "unit": why},
        {
            "metric": f"load generator lateness at {label}, p99",
            "value": round(percentile(late, 0.99), 1),
            "unit": "ms (sent after due; included in the latency)",
        },
        {"metric": f"CPU at {label}", "value": _cpu(w.cpu), "unit": "% of one core"},
    ]
    if w.lags:
        rows.append(
            {
                "metric": f"consumer lag at the end of {label}",
                "value": ", ".join(f"{g} {v}" for g, v in w.lags[-1][1].items()),
                "unit": "records",
            }
        )
    return rows


def report(
    plan: Plan,
    repeats: int,
    measured: Measurement,
    rss_idle: dict[str, float],
    rss_after: dict[str, float],
    profiles: dict[str, dict[str, Any]],
    started_s: float,
    wall_s: float,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {
            "metric": "e2e window per rate",
            "value": plan.window_s,
            "unit": f"s; each percentile the median over {repeats} consecutive parts of it",
        },
    ]
    for rate, w in measured.windows.items():
        rows += _window_rows(w, repeats, f"{rate:g} kudos/s")
    for w in measured.steps:
        held, why = w.verdict()
        rows.append(
            {
                "metric": f"search step {w.rate:g} kudos/s for {w.planned_s:g} s",
                "value": "held" if held else "not held",
                "unit": f"{why}; p99 {_latency(w, 1, 0.99)} ms",
            }
        )
    rows += [
        {
            "metric": "highest rate held without the backlog growing",
            "value": measured.highest,
            "unit": f"kudos/s (search steps of {plan.search_window_s:g} s)",
        },
        {"metric": "services started and ready", "value": round(started_s, 1), "unit": "s"},
        {"metric": "e2e benchmark wall time", "value": round(wall_s, 1), "unit": "s"},
    ]
    goals = []
    goal = measured.windows.get(GOAL_RATE)
    if goal is not None:
        goals.append(
            TARGETS["e2e_p99"].judge(
                median_of_parts(goal, repeats, 0.99), why=_why_slow(goal, profiles)
            )
        )
    goals.append(
        TARGETS["kudos_held"].judge(
            measured.highest,
            detail=f"search steps of {plan.search_window_s:g} s",
            why="the highest rate held in the search; the CPU of each rate is in its rows",
        )
    )
    rss = {
        s: {"idle_mb": rss_idle.get(s, math.nan), "after_mb": rss_after.get(s, math.nan)}
        for s in rss_idle
    }
    result: dict[str, Any] = {"rows": rows, "goals": goals, "rss": rss}
    if profiles:
        result["profiles"] = profiles
    return result


def _why_slow(w: Window, profiles: dict[str, dict[str, Any]]) -> str:
    answered = percentile([(s.answered - s.due) * 1000 for s in w.accepted], 0.5)
    held, verdict = w.verdict()
    parts = [
        f"{'held' if held else 'not held'} ({verdict}); a median kudos waited "
        f"{answered:.0f} ms for POST /kudos to answer and {_latency(w, 1, 0.5)} ms in all "
        "(the rest is the judge, the projection, the notifier's planning and its sending)",
        f"CPU, % of one core: {_cpu(w.cpu)}",
    ]
    for service, summary in profiles.items():
        top = summary.get("top_project_inclusive", [])[:4]
        if top:
            parts.append(
                f"{service} profile: "
                + "; ".join(f"{t['function']} {t['share'] * 100:.0f}%" for t in top)
            )
    return ". ".join(parts)
