"""`copctl health`: recognition's health report as a table; the service's refusals, readably."""

import json
import socket
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from copctl.cli import app
from copctl.health import HealthClient, HealthError, format_change, format_value, rows
from tests.http_stubs import JsonHandler, serving_in_thread

REPORT = {
    "community_id": "platform",
    "period": "2026-10",
    "start": "2026-10-01T00:00:00Z",
    "end": "2026-11-01T00:00:00Z",
    "metrics": {"members": 120, "participation_rate": 0.4167, "avg_rating": 4.25, "reuses": 3},
    "previous": {
        "period": "2026-09",
        "start": "2026-09-01T00:00:00Z",
        "end": "2026-10-01T00:00:00Z",
        "metrics": {"members": 117, "participation_rate": 0.5, "avg_rating": 4.25, "reuses": 5},
    },
}
INVALID_PERIOD = {
    "type": "about:blank",
    "title": "Invalid period",
    "status": 422,
    "instance": "/communities/platform/health",
    "detail": "'2026-13' is not a period: use YYYY-MM, YYYY-Qn, YYYY-Www or all",
    "field": "period",
}
INVALID_REQUEST = {
    "type": "about:blank",
    "title": "Request is not valid",
    "status": 422,
    "detail": "one or more fields are wrong; see errors",
    "errors": [{"field": "query.period", "message": "String should have at most 16 characters"}],
}


class Recognition(JsonHandler):
    """Answers `GET /communities/platform/health` as recognition does: a bad period gets 422,
    and another path a 404 without detail (the route does not exist)."""

    requests: ClassVar[list[tuple[str, dict[str, list[str]], str | None]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        Recognition.requests.append((url.path, query, self.headers.get("Authorization")))
        if url.path != "/communities/platform/health":
            self.answer(404, {"type": "about:blank", "title": "Not Found", "status": 404})
        elif query.get("period", ["2026-10"]) != ["2026-10"]:
            self.answer(422, INVALID_PERIOD)
        else:
            self.answer(200, REPORT, "application/json")


@pytest.fixture(scope="module")
def recognition_url() -> Iterator[str]:
    with serving_in_thread(Recognition) as url:
        yield url


def cells(line: str) -> list[str]:
    """The cells of one row of the table as rich draws it."""
    return [c.strip() for c in line.strip().strip("│┃").replace("┃", "│").split("│")]


def a_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_copctl_health_prints_each_metric_with_the_previous_value_and_the_change(
    recognition_url: str,
) -> None:
    Recognition.requests.clear()
    result = CliRunner().invoke(
        app, ["health", "platform", "--period", "2026-10", "--url", recognition_url]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("platform" in line and "2026-10" in line for line in lines)
    assert "previous (2026-09)" in result.stdout
    for metric, value, previous, change in (
        ("members", "120", "117", "+3"),
        ("participation_rate", "0.4167", "0.5000", "-0.0833"),
        ("avg_rating", "4.2500", "4.2500", "0.0000"),
        ("reuses", "3", "5", "-2"),
    ):
        row = next(line for line in lines if f" {metric} " in line)
        assert cells(row) == [metric, value, previous, change], row
    listed = [cells(line)[0] for line in lines if len(cells(line)) == 4]
    assert listed[1:] == ["members", "participation_rate", "reuses", "avg_rating"]  # contract order
    path, query, authorization = Recognition.requests[-1]
    assert (path, query) == ("/communities/platform/health", {"period": ["2026-10"]})
    assert authorization is not None
    assert authorization.startswith("Bearer ")


def test_copctl_health_asks_for_the_current_month_when_no_period_is_given(
    recognition_url: str,
) -> None:
    Recognition.requests.clear()
    result = CliRunner().invoke(app, ["health", "platform", "--url", recognition_url])
    assert result.exit_code == 0, result.output
    assert Recognition.requests[-1][1] == {}


def test_copctl_health_prints_a_refused_period_readably_and_exits_2(recognition_url: str) -> None:
    result = CliRunner().invoke(
        app, ["health", "platform", "--period", "2026-13", "--url", recognition_url]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid period: '2026-13' is not a period" in result.stderr
    assert result.stdout == ""


def test_copctl_health_asks_whether_a_service_without_the_route_is_recognition(
    recognition_url: str,
) -> None:
    result = CliRunner().invoke(app, ["health", "nowhere", "--url", recognition_url])
    assert result.exit_code == 1, result.output
    assert "/communities/nowhere/health answered 404 Not Found" in result.stderr
    assert f"is {recognition_url} the recognition service" in result.stderr
    assert result.stdout == ""


def test_copctl_health_says_which_url_it_cannot_reach_and_exits_1() -> None:
    url = f"http://127.0.0.1:{a_closed_port()}"
    result = CliRunner().invoke(app, ["health", "platform", "--url", url])
    assert result.exit_code == 1, result.output
    assert f"cannot reach the recognition service at {url}" in result.stderr
    assert "RECOGNITION_URL" in result.stderr


def client_answering(status: int, body: Any, media: str = "application/json") -> HealthClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body), headers={"content-type": media})

    return HealthClient("http://recognition", "x" * 32, transport=httpx.MockTransport(answer))


def test_a_refusal_that_is_not_problem_json_asks_whether_it_is_the_recognition_service() -> None:
    with (
        client_answering(502, "bad gateway", "text/plain") as client,
        pytest.raises(HealthError, match="is that the recognition service") as refused,
    ):
        client.health("platform")
    assert refused.value.exit_code == 1


def test_a_refused_request_lists_every_wrong_field_and_exits_2() -> None:
    with (
        client_answering(422, INVALID_REQUEST, "application/problem+json") as client,
        pytest.raises(HealthError) as refused,
    ):
        client.health("platform", "x" * 20)
    assert refused.value.exit_code == 2
    assert str(refused.value).splitlines() == [
        "Request is not valid: one or more fields are wrong; see errors",
        "query.period: String should have at most 16 characters",
    ]


def test_a_refused_token_points_at_the_token_secret() -> None:
    problem = {"title": "Unauthorized", "status": 401, "detail": "bad signature"}
    with (
        client_answering(401, problem, "application/problem+json") as client,
        pytest.raises(HealthError, match="AUTH_TOKEN_SECRET"),
    ):
        client.health("platform")


def test_an_answer_without_metrics_is_not_taken_for_a_report() -> None:
    with (
        client_answering(200, {"status": "ok"}) as client,
        pytest.raises(HealthError, match="without a health report"),
    ):
        client.health("platform")


def test_values_and_changes_are_formatted_as_counts_or_four_decimals() -> None:
    assert format_value(12) == "12"
    assert format_value(0.5) == "0.5000"
    assert format_value(None) == "-"
    assert format_change(12, 9) == "+3"
    assert format_change(9, 12) == "-3"
    assert format_change(4, 4) == "0"
    assert format_change(0.5, 0.4167) == "+0.0833"
    assert format_change(0.1, 0.1) == "0.0000"
    assert format_change(3, None) == "-"
    assert format_change(True, 1) == "-"


def test_rows_follow_the_contract_order_and_keep_metrics_the_cli_does_not_know() -> None:
    report = {
        "metrics": {"zeta_score": 1, "reuses": 2, "members": 10},
        "previous": {"metrics": {"members": 8, "sessions_held": 1}},
    }
    assert rows(report) == [
        ("members", "10", "8", "+2"),
        ("sessions_held", "-", "1", "-"),
        ("reuses", "2", "-", "-"),
        ("zeta_score", "1", "-", "-"),
    ]
