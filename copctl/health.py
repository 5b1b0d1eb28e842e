"""`copctl health`: a community's health for a month or quarter, as recognition computes it.

copctl only asks the recognition service (`GET /communities/{id}/health`), signing itself a
short-lived admin token with the services' `AUTH_TOKEN_SECRET`, and prints each metric with the
previous period's value and the change.
"""

from typing import Any
from urllib.parse import quote

import httpx
from rich.table import Table

from copctl.operator_http import OperatorClient, ServiceError, field_errors
from shared.community_health import METRICS

MISSING = "-"


class HealthError(ServiceError):
    pass


class HealthClient(OperatorClient):
    service = "recognition service"
    url_option = "--url or RECOGNITION_URL"
    error = HealthError

    def health(self, community_id: str, period: str | None = None) -> dict[str, Any]:
        """The health report of a community; the current month when no period is given."""
        params = {"period": period} if period else {}
        path = f"/communities/{quote(community_id, safe='')}/health"
        response = self._request("GET", path, params=params)
        if response.status_code != 200:
            raise self._refusal(response)
        try:
            report = response.json()
        except ValueError:
            report = None
        if not isinstance(report, dict) or not isinstance(report.get("metrics"), dict):
            raise HealthError(
                f"GET {response.request.url} answered 200 without a health report: "
                "is that the recognition service?"
            )
        return report

    def _refused(self, response: httpx.Response, problem: dict[str, Any]) -> HealthError:
        title = str(problem.get("title") or response.reason_phrase)
        detail = str(problem.get("detail") or "")
        if response.status_code in (400, 422):
            head = f"{title}: {detail}" if detail else title
            return HealthError("\n".join([head, *field_errors(problem)]), 2)
        if response.status_code == 404 and not detail:
            # Health answers every community (with zeros when it knows none): no such route.
            return HealthError(
                f"GET {response.request.url.path} answered 404 {title}: is {self.url} the "
                "recognition service, and one that serves /communities/{id}/health?"
            )
        return HealthError(
            f"the recognition service answered {response.status_code} {title}"
            + (f": {detail}" if detail else "")
        )


def format_value(value: Any) -> str:
    """Counts as they are, ratios and means with the 4 decimals the service rounds them to."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_change(value: Any, previous: Any) -> str:
    """The difference to the previous period, signed; `-` when either side is not a number."""
    if not (_is_number(value) and _is_number(previous)):
        return MISSING
    change = value - previous
    if isinstance(change, int):
        return f"{change:+d}" if change else "0"
    change = round(change, 4)
    return f"{change:+.4f}" if change else "0.0000"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, value, previous, change) in the contract's order, then any others by name."""
    metrics: dict[str, Any] = report.get("metrics") or {}
    previous_block = report.get("previous") or {}
    previous: dict[str, Any] = previous_block.get("metrics") or {}
    names = [m for m in METRICS if m in metrics or m in previous]
    names += sorted((set(metrics) | set(previous)) - set(METRICS))
    return [
        (
            name,
            format_value(metrics.get(name)),
            format_value(previous.get(name)),
            format_change(metrics.get(name), previous.get(name)),
        )
        for name in names
    ]


def _span(block: dict[str, Any]) -> str:
    """` [start, end)` by day (a period starts and ends at midnight UTC)."""
    start, end = block.get("start"), block.get("end")
    return f" [{str(start)[:10]}, {str(end)[:10]})" if start and end else ""


def table(report: dict[str, Any]) -> Table:
    """The report as a terminal table, titled with the community and both periods."""
    previous = report.get("previous") or {}
    result = Table(
        title=f"{report.get('community_id')} - health {report.get('period')}{_span(report)}",
        caption=(f"previous: {previous.get('period')}{_span(previous)}" if previous else None),
    )
    result.add_column("metric")
    result.add_column("value", justify="right")
    result.add_column(f"previous ({previous.get('period', MISSING)})", justify="right")
    result.add_column("change", justify="right")
    for metric, value, before, change in rows(report):
        result.add_row(metric, value, before, change)
    return result
