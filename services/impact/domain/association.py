"""Across teams: does participation in one quarter go with a change of delivery in the next?

For each team, its participation share in the quarter and the change of each DORA metric from
that quarter to the next; then, per metric, Spearman's rank correlation between the two across
the teams that have both. A correlation is shown only from `MIN_TEAMS` teams on, and it is an
association: it cannot tell which way anything goes, nor rule out a third cause.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from services.impact.domain.stats import spearman
from shared.team_impact import Dora

MIN_TEAMS: Final = 5
METRICS: Final = ("deployments", "lead_time_median_h", "change_failure_rate", "restore_median_h")
LABEL: Final = "association, not cause"
NOTE: Final = (
    "Teams that took part more in one quarter may have improved more in the next, or not; "
    "a rank correlation across teams says how the two go together, not that one brings about "
    "the other: teams that choose to take part may differ in other ways, and few teams make a "
    "weak test."
)


@dataclass(frozen=True)
class TeamQuarters:
    team: str
    participation_share: float
    this_quarter: Dora
    next_quarter: Dora

    def change(self, metric: str) -> float | None:
        before, after = getattr(self.this_quarter, metric), getattr(self.next_quarter, metric)
        if before is None or after is None:
            return None
        return round(float(after) - float(before), 4)


def association(quarter: str, following: str, teams: Sequence[TeamQuarters]) -> dict[str, Any]:
    rows = [
        {
            "team": t.team,
            "participation_share": t.participation_share,
            "changes": {metric: t.change(metric) for metric in METRICS},
        }
        for t in sorted(teams, key=lambda t: t.team)
    ]
    correlations = {}
    for metric in METRICS:
        pairs = [
            (t.participation_share, change)
            for t in teams
            if (change := t.change(metric)) is not None
        ]
        rho = spearman([p for p, _ in pairs], [c for _, c in pairs])
        shown = len(pairs) >= MIN_TEAMS and rho is not None
        correlations[metric] = {
            "n": len(pairs),
            "spearman_rho": round(rho, 4) if shown and rho is not None else None,
            "shown": shown,
        }
    return {
        "quarter": quarter,
        "next_quarter": following,
        "label": LABEL,
        "note": NOTE,
        "min_teams": MIN_TEAMS,
        "teams": rows,
        "correlations": correlations,
    }
