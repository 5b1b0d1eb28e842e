"""What the impact pages show, shaped from the impact service's answers: a team's figures month
by month (series for the charts, rows for the table, the months it attended sessions), its
quarter against the one before with arrows, what the numbers miss, the facts behind a figure,
and the association across teams. Names and definitions come from `shared/team_impact.py`.
Pure: no I/O."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel

from services.web.domain.health import Arrow, arrow
from shared.team_impact import DataQuality, Dora, Participation, PeriodReport

Kind = Literal["count", "hours", "share"]
Better = Literal["better", "worse", "same", "none"]


@dataclass(frozen=True)
class Spec:
    """One figure of the contract as the pages show it."""

    group: Literal["dora", "participation"]
    metric: str
    label: str
    kind: Kind
    lower_is_better: bool | None = None  # None: neither way is better
    drill: str | None = None  # the impact service's `facts?metric=` behind it

    @property
    def definition(self) -> str:
        model: type[BaseModel] = Dora if self.group == "dora" else Participation
        return plain(model.model_fields[self.metric].description)


DORA: Final = (
    Spec("dora", "deployments", "Deployments", "count", False, "deployments"),
    Spec("dora", "deployment_days", "Deployment days", "count", False, "deployments"),
    Spec("dora", "lead_time_median_h", "Lead time (median hours)", "hours", True, "lead_time"),
    Spec("dora", "change_failure_rate", "Change failure rate", "share", True, "failures"),
    Spec("dora", "restore_median_h", "Time to restore (median hours)", "hours", True, "incidents"),
    Spec("dora", "open_incidents", "Open incidents", "count", True, "incidents"),
)
PARTICIPATION: Final = (
    Spec("participation", "participation_share", "Participation share", "share"),
    Spec("participation", "sessions_attended", "Sessions attended", "count"),
    Spec("participation", "members", "Members", "count"),
    Spec("participation", "attending_members", "Attending members", "count"),
    Spec("participation", "artifacts_authored", "Artifacts authored", "count"),
    Spec("participation", "reuses_by_team", "Reuses by the team", "count"),
    Spec("participation", "kudos_received", "Kudos received", "count"),
)
SPECS: Final = {s.metric: s for s in (*DORA, *PARTICIPATION)}
CHARTED: Final = (
    "deployments",
    "lead_time_median_h",
    "change_failure_rate",
    "restore_median_h",
    "participation_share",
    "sessions_attended",
)
"""The four DORA metrics, then participation beside them: charted, and the table's columns."""
TABLED: Final = (*CHARTED[:4], "deployment_days", "open_incidents", *CHARTED[4:])

FACT_METRICS: Final = {
    "deployments": "Deployments",
    "failures": "Failed deployments",
    "lead_time": "Changes and their lead time",
    "incidents": "Incidents and their time to restore",
}
"""What a figure opens on (the impact service's `facts?metric=`), and its heading."""


def plain(definition: str | None) -> str:
    """A contract's definition as a page prints it (its Markdown code marks dropped)."""
    return (definition or "").replace("`", "")


def shown(metric: str, value: float | None) -> str:
    """A figure as the pages print it: shares in percent, hours with 2 decimals, a dash for
    nothing to show (a median of nothing)."""
    if value is None:
        return "\N{EN DASH}"
    kind = SPECS[metric].kind if metric in SPECS else "count"
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.2f}"
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def judged(metric: str, direction: Arrow) -> Better:
    """Whether a move of the figure is for the better (lower lead time, more deployments)."""
    if direction in ("none", "flat"):
        return "same" if direction == "flat" else "none"
    lower = SPECS[metric].lower_is_better
    if lower is None:
        return "none"
    return "better" if (direction == "down") == lower else "worse"


# --- a team's months --------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    spec: Spec
    values: list[float | None]

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass(frozen=True)
class TeamBoard:
    """The team's figures month by month: a series per figure, and the months with sessions
    the team's members attended."""

    months: list[str]
    series: dict[str, Series]
    attended: list[bool]

    def charted(self, group: str) -> list[Series]:
        return [self.series[m] for m in CHARTED if self.series[m].spec.group == group]

    def columns(self) -> list[Series]:
        return [self.series[m] for m in TABLED]

    def rows(self) -> list[tuple[str, bool, list[float | None]]]:
        """A row per month: the month, whether the team attended sessions, the table's figures."""
        return [
            (month, self.attended[i], [s.values[i] for s in self.columns()])
            for i, month in enumerate(self.months)
        ]

    def chart_data(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "series": {m: self.series[m].values for m in CHARTED},
            "shares": [m for m in CHARTED if SPECS[m].kind == "share"],
            "attended": self.attended,
        }


def team_board(months: Sequence[str], reports: Sequence[Mapping[str, Any]]) -> TeamBoard:
    """The trend's `months` on the axis `months`; a month the answer lacks has nothing (its
    figures are gaps, never zeros the service did not say)."""
    by_month = {r["period"]: PeriodReport.model_validate(r) for r in reports}
    series = {}
    for metric in TABLED:
        spec = SPECS[metric]
        values: list[float | None] = []
        for month in months:
            report = by_month.get(month)
            value = getattr(getattr(report, spec.group), metric) if report else None
            values.append(None if value is None else float(value))
        series[metric] = Series(spec, values)
    attended = [(series["sessions_attended"].values[i] or 0) > 0 for i in range(len(months))]
    return TeamBoard(list(months), series, attended)


# --- a quarter against the one before ---------------------------------------------------------


@dataclass(frozen=True)
class Compared:
    spec: Spec
    value: float | None
    previous: float | None

    @property
    def arrow(self) -> Arrow:
        if self.value is None or self.previous is None:
            return "none"
        return arrow(self.value, self.previous)

    @property
    def judged(self) -> Better:
        return judged(self.spec.metric, self.arrow)


@dataclass(frozen=True)
class Gap:
    field: str
    label: str
    definition: str
    count: int


@dataclass(frozen=True)
class QuarterView:
    period: str
    previous: str
    figures: list[Compared]
    gaps: list[Gap]


def quarter_view(answer: Mapping[str, Any]) -> QuarterView:
    """`GET /teams/{team}/impact?period=` as the page compares it: every figure beside the
    period before's, and what the period's numbers miss."""
    now, before = answer, answer["previous"]
    figures = [
        Compared(
            spec,
            _number(now[spec.group][spec.metric]),
            _number(before[spec.group][spec.metric]),
        )
        for spec in (*DORA, *PARTICIPATION)
    ]
    quality = DataQuality.model_validate(answer["data_quality"])
    gaps = [
        Gap(name, name.replace("_", " "), plain(info.description), getattr(quality, name))
        for name, info in DataQuality.model_fields.items()
    ]
    return QuarterView(str(answer["period"]), str(before["period"]), figures, gaps)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


# --- the facts behind a figure ----------------------------------------------------------------

_FAILURE_SAID = {
    "incident_names_artifact": "incident {incident} names its artifact (detected {at})",
    "rollback": "rolled back at {at}, while it was the service's latest deployment",
    "incident_of_service": "incident {incident} of the service, naming no artifact, detected "
    "{at} while it was the service's latest deployment",
}
_LEFT_OUT_SAID = {
    "no_merge": "left out: no merge known",
    "deployed_before_merge": "left out: deployed before its merge",
}
_STATUS_SAID = {
    "resolved": "resolved",
    "open": "open",
    "resolved_before_detected": "left out: resolved before detected",
}


def moment(value: str | None) -> str:
    """An instant of an answer as `YYYY-MM-DD HH:MM` (UTC)."""
    if not value:
        return "\N{EN DASH}"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


def failure_said(failure: Mapping[str, Any] | None) -> str:
    if not failure:
        return ""
    template = _FAILURE_SAID.get(str(failure.get("cause")), "{cause}")
    return template.format(
        incident=failure.get("incident_id") or "",
        at=moment(failure.get("at")),
        cause=failure.get("cause"),
    )


def left_out_said(reason: str | None) -> str:
    return _LEFT_OUT_SAID.get(reason or "", reason or "")


def status_said(status: str) -> str:
    return _STATUS_SAID.get(status, status)


# --- the association across teams -------------------------------------------------------------

ASSOCIATION_METRICS: Final = (
    "deployments",
    "lead_time_median_h",
    "change_failure_rate",
    "restore_median_h",
)


@dataclass(frozen=True)
class Correlation:
    spec: Spec
    n: int
    rho: float | None
    shown: bool
    min_teams: int

    @property
    def said(self) -> str:
        if self.shown and self.rho is not None:
            return f"\N{GREEK SMALL LETTER RHO} = {self.rho:+.2f} across {self.n} teams"
        if self.n < self.min_teams:
            return (
                f"not shown: {self.n} team{'s' if self.n != 1 else ''} with both figures, "
                f"at least {self.min_teams} needed"
            )
        return f"not shown: no order to compare across {self.n} teams (the figures do not vary)"


@dataclass(frozen=True)
class TeamChange:
    team: str
    participation_share: float
    changes: list[tuple[Spec, float | None]]


@dataclass(frozen=True)
class AssociationView:
    quarter: str
    next_quarter: str
    label: str
    min_teams: int
    specs: list[Spec]
    teams: list[TeamChange]
    correlations: list[Correlation]


def association_view(answer: Mapping[str, Any]) -> AssociationView:
    specs = [SPECS[m] for m in ASSOCIATION_METRICS]
    min_teams = int(answer["min_teams"])
    teams = [
        TeamChange(
            str(t["team"]),
            float(t["participation_share"]),
            [(s, _number(t["changes"].get(s.metric))) for s in specs],
        )
        for t in answer["teams"]
    ]
    correlations = [
        Correlation(
            s,
            int(c["n"]),
            _number(c.get("spearman_rho")),
            bool(c["shown"]),
            min_teams,
        )
        for s in specs
        if (c := answer["correlations"].get(s.metric)) is not None
    ]
    return AssociationView(
        str(answer["quarter"]),
        str(answer["next_quarter"]),
        str(answer["label"]),
        min_teams,
        specs,
        teams,
        correlations,
    )


def change_shown(metric: str, change: float | None) -> str:
    """A change to the next quarter, signed (`+2`, minus `0.10`, `+5.0 pp` for a share)."""
    if change is None:
        return "\N{EN DASH}"
    if SPECS[metric].kind == "share":
        text = f"{abs(change) * 100:.1f} pp"
    elif SPECS[metric].kind == "hours" or not float(change).is_integer():
        text = f"{abs(change):.2f}"
    else:
        text = str(int(abs(change)))
    sign = "+" if change > 0 else "\N{MINUS SIGN}" if change < 0 else "±"
    return sign + text
