"""What a health page shows, computed from recognition's answers: the months of a window, the
trend arrow, one series per metric, and the CSV of the same numbers. Pure: no I/O."""

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from shared.community_health import METRICS, HealthMetrics

Arrow = Literal["up", "down", "flat", "none"]
ARROW_SIGNS: dict[Arrow, str] = {"up": "↑", "down": "↓", "flat": "→", "none": "\N{EN DASH}"}


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_back(last: date, count: int) -> list[str]:
    """The `count` month keys ending with `last`'s month, oldest first."""
    year, month = last.year, last.month
    keys = []
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys[::-1]


def arrow(current: float, previous: float, *, tolerance: float = 0.005) -> Arrow:
    """Which way a number went from the previous period to this one."""
    if current == 0 and previous == 0:
        return "none"
    if abs(current - previous) <= tolerance:
        return "flat"
    return "up" if current > previous else "down"


def definition(metric: str) -> str:
    """The metric's definition, as the typed health contract states it."""
    return HealthMetrics.model_fields[metric].description or ""


def label(metric: str) -> str:
    return metric.replace("_", " ").replace("last6", "(last 6)").replace("top20", "top 20%")


def is_share(metric: str) -> bool:
    """Shares (0..1) are shown as percentages."""
    field = HealthMetrics.model_fields[metric]
    return any(getattr(m, "le", None) == 1 for m in field.metadata)


def shown(metric: str, value: float) -> str:
    if is_share(metric):
        return f"{value * 100:.1f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(int(value))


@dataclass(frozen=True)
class Series:
    metric: str
    label: str
    definition: str
    values: list[float]
    share: bool


@dataclass(frozen=True)
class Dashboard:
    months: list[str]
    series: list[Series]

    def rows(self) -> list[tuple[str, list[float]]]:
        """One row per month: the month and every metric's value that month."""
        return [(m, [s.values[i] for s in self.series]) for i, m in enumerate(self.months)]

    def chart_data(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "series": {s.metric: s.values for s in self.series},
            "shares": [s.metric for s in self.series if s.share],
        }


def dashboard(months: Sequence[str], windows: Sequence[Mapping[str, Any]]) -> Dashboard:
    """Every metric month by month from `/health/trend`'s `months`; a month the answer lacks
    counts as zero, so the axis has no holes."""
    by_month = {w["period"]: HealthMetrics.model_validate(w["metrics"]) for w in windows}
    empty = dict.fromkeys(METRICS, 0)
    series = []
    for metric in METRICS:
        values = [
            float(getattr(by_month[m], metric)) if m in by_month else float(empty[metric])
            for m in months
        ]
        series.append(Series(metric, label(metric), definition(metric), values, is_share(metric)))
    return Dashboard(list(months), series)


def to_csv(board: Dashboard) -> str:
    """The dashboard's numbers as CSV: a row per month, a column per metric (contract names)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", *(s.metric for s in board.series)])
    for month, values in board.rows():
        writer.writerow([month, *(_csv_number(v) for v in values)])
    return out.getvalue()


def _csv_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# --- the charter's goals, month by month ----------------------------------------------------

COMPARISON_SIGNS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}


@dataclass(frozen=True)
class GoalCell:
    """A goal in one month: the month's value of its metric, and whether it met the target."""

    value: float
    met: bool
    shown: str


@dataclass(frozen=True)
class GoalRow:
    goal: str  # as recognition states it: `participation_rate >= 0.6`
    said: str  # as a reader says it: `participation rate ≥ 60.0%`
    metric: str
    cells: list[GoalCell | None]  # per month; None: recognition did not judge that month


@dataclass(frozen=True)
class Goals:
    months: list[str]
    rows: list[GoalRow]


def _known(metric: str) -> bool:
    return metric in HealthMetrics.model_fields  # not one newer than these pages


def goal_said(metric: str, comparison: str, target: float) -> str:
    sign = COMPARISON_SIGNS.get(comparison, comparison)
    if not _known(metric):
        return f"{metric} {sign} {target:g}"
    return f"{label(metric)} {sign} {shown(metric, target)}"


def _cell(metric: str, judged: Mapping[str, Any] | None) -> GoalCell | None:
    if judged is None:
        return None
    value = float(judged["value"])
    return GoalCell(
        value, bool(judged["met"]), shown(metric, value) if _known(metric) else f"{value:g}"
    )


def goals_by_month(months: Sequence[str], windows: Sequence[Mapping[str, Any]]) -> Goals:
    """Each goal of the charter, month by month, as recognition judged it (the current
    charter's goals on every month's numbers), in the charter's order."""
    judged = {w["period"]: {g["goal"]: g for g in w.get("goals") or []} for w in windows}
    first: dict[str, Mapping[str, Any]] = {}
    for window in windows:
        for goal in window.get("goals") or []:
            first.setdefault(goal["goal"], goal)
    rows = []
    for text, goal in first.items():
        cells = [_cell(goal["metric"], judged.get(m, {}).get(text)) for m in months]
        said = goal_said(goal["metric"], str(goal["comparison"]), float(goal["target"]))
        rows.append(GoalRow(text, said, goal["metric"], cells))
    return Goals(list(months), rows)


# --- the quarterly review -------------------------------------------------------------------

REVIEW_METRICS = (
    "members",
    "participation_rate",
    "sessions_held",
    "avg_attendance",
    "facilitators_last6",
    "artifacts_published",
    "cross_team_reuses",
    "avg_rating",
    "applied_share",
    "action_closure_rate",
)
"""The numbers a sponsor reads first, in this order; the health dashboard has every metric."""


def quarter_of(day: date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def is_quarter(key: str) -> bool:
    return len(key) == 7 and key[:4].isdigit() and key[4:6] == "-Q" and key[6] in "1234"


def previous_quarter(key: str) -> str:
    year, q = int(key[:4]), int(key[6])
    return f"{year - 1:04d}-Q4" if q == 1 else f"{year:04d}-Q{q - 1}"


def quarters_back(day: date, count: int) -> list[str]:
    """The `count` quarters ending with `day`'s, newest first."""
    keys = [quarter_of(day)]
    while len(keys) < count:
        keys.append(previous_quarter(keys[-1]))
    return keys


def quarter_months(key: str) -> list[str]:
    first = (int(key[6]) - 1) * 3 + 1
    return [f"{key[:4]}-{m:02d}" for m in range(first, first + 3)]


@dataclass(frozen=True)
class Figure:
    """One metric of one community for a quarter, beside the quarter before."""

    metric: str
    label: str
    definition: str
    value: float
    previous: float
    arrow: Arrow

    @property
    def shown(self) -> str:
        return shown(self.metric, self.value)

    @property
    def shown_previous(self) -> str:
        return shown(self.metric, self.previous)


def figures(now: Mapping[str, Any], before: Mapping[str, Any]) -> list[Figure]:
    """The review's metrics from two answers of `/health` (this quarter's and the one before)."""
    current, previous = HealthMetrics.model_validate(now), HealthMetrics.model_validate(before)
    return [
        Figure(
            metric,
            label(metric),
            definition(metric),
            float(getattr(current, metric)),
            float(getattr(previous, metric)),
            arrow(float(getattr(current, metric)), float(getattr(previous, metric))),
        )
        for metric in REVIEW_METRICS
    ]
