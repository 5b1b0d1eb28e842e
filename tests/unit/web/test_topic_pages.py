"""The topic backlog's page and the goals on the health dashboard, with the services replaced by
a mock transport that records what the pages send."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.domain.health import goals_by_month, month_key
from services.web.domain.topics import schedule_body
from shared.community_health import METRICS, HealthMetrics
from tests.unit.web.pages import COMMUNITY, signed_in

TOPIC = {
    "topic_id": "t-1",
    "community_id": "guild",
    "title": "Property-based testing",
    "description": "Hypothesis in anger",
    "status": "open",
    "votes": 2,
    "voted_by_me": False,
    "speaker_ids": ["grace"],
    "tags": [],
    "proposed_by": "grace",
    "proposed_at": "2026-01-05T10:00:00Z",
    "session_id": None,
    "decline_reason": None,
    "merged_into": None,
}
MEMBERS = [
    {"member_id": "ada", "role": "member"},
    {"member_id": "grace", "role": "member"},
    {"member_id": "linus", "role": "core"},
]
BUDGET_EXHAUSTED = {
    "type": "urn:cop:problem:events:vote_budget_exhausted",
    "title": "Conflict",
    "status": 409,
    "detail": "grace has 5 active votes in guild, the budget is 5",
    "code": "vote_budget_exhausted",
    "budget": 5,
    "active": 5,
}


def goal(text: str, metric: str, target: float, value: float, met: bool) -> dict[str, Any]:
    return {
        "goal": text, "metric": metric, "comparison": ">=", "target": target,
        "value": value, "met": met,
    }  # fmt: skip


def month(period: str, goals: list[dict[str, Any]]) -> dict[str, Any]:
    metrics = HealthMetrics.model_validate(dict.fromkeys(METRICS, 0)).model_dump()
    return {"period": period, "metrics": metrics, "goals": goals}


class Services:
    """The events and recognition APIs as the pages call them; what they were sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.trend: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        path, method = request.url.path, request.method
        if path == "/communities/guild":
            return httpx.Response(200, json=COMMUNITY)
        if path == "/communities/guild/topics" and method == "GET":
            return httpx.Response(200, json={"items": [TOPIC], "total": 1, "page": 1, "size": 30})
        if path == "/communities/guild/votes/me":
            return httpx.Response(200, json={"budget": 5, "active": 5, "left": 0})
        if path == "/communities/guild/members":
            return httpx.Response(200, json={"items": MEMBERS, "total": 3, "page": 1, "size": 200})
        if path == "/topics/t-1/vote":
            return httpx.Response(409, json=BUDGET_EXHAUSTED)
        if path == "/topics/t-1/schedule":
            return httpx.Response(
                202, json={"event_id": "e", "topic_id": "t-1", "session_id": "s-9"}
            )
        if path == "/communities/guild/health/trend":
            return httpx.Response(200, json={"months": self.trend})
        if path.startswith("/communities/guild/"):
            return httpx.Response(200, json={"items": [], "alerts": []})
        return httpx.Response(404, json={"title": "Not found"})


@pytest.fixture
def services() -> Services:
    return Services()


def test_the_backlog_shows_each_topic_with_its_votes_and_the_budget_left(
    client: TestClient,
) -> None:
    signed_in(client, "grace")
    page = client.get("/communities/guild/topics")
    assert page.status_code == 200
    assert "Property-based testing" in page.text
    assert 'data-votes="2"' in page.text
    assert 'id="budget" data-left="0" data-budget="5"' in page.text
    assert "Schedule as a session" not in page.text, "only the leader and core members"


@pytest.mark.parametrize("member", ["ada", "linus"])
def test_the_leader_and_core_members_are_offered_to_schedule_and_decline(
    client: TestClient, member: str
) -> None:
    signed_in(client, member)
    page = client.get("/communities/guild/topics").text
    assert "Schedule as a session" in page
    assert 'action="/communities/guild/topics/t-1/decline"' in page


def test_a_visitor_is_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/communities/guild/topics", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=")


def test_a_refused_vote_shows_the_services_detail_next_to_its_topic(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "grace")
    refused = client.post(
        "/communities/guild/topics/t-1/vote", data={"csrf_token": csrf, "sort": "new"}
    )
    assert refused.status_code == 422
    shown = re.search(
        r'<p class="field-error" role="alert" id="refusal-t-1">([^<]*)</p>', refused.text
    )
    assert shown
    assert shown[1] == BUDGET_EXHAUSTED["detail"]
    assert 'name="sort" value="new"' in refused.text, "the order the member had picked"
    vote = next(r for r in services.sent if r.url.path == "/topics/t-1/vote")
    assert vote.method == "PUT"
    assert vote.headers["authorization"].startswith("Bearer ")


def test_scheduling_sends_the_viewer_as_facilitator_and_links_the_session(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "ada")
    form = {
        "csrf_token": csrf, "starts_at": "2027-03-04T17:30", "format": "workshop",
        "duration_minutes": "90", "idempotency_key": "k-1",
    }  # fmt: skip
    answer = client.post(
        "/communities/guild/topics/t-1/schedule", data=form, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("scheduled=s-9")
    sent = next(r for r in services.sent if r.url.path == "/topics/t-1/schedule")
    assert json.loads(sent.content) == {
        "starts_at": "2027-03-04T17:30:00+00:00", "format": "workshop",
        "duration_minutes": 90, "facilitator_id": "ada",
    }  # fmt: skip
    assert sent.headers["idempotency-key"] == "k-1"
    assert sent.url.params["wait"] == "true"
    page = client.get(answer.headers["location"]).text
    assert 'href="/sessions/s-9"' in page


def test_a_decline_without_a_reason_is_refused_before_anything_is_sent(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "ada")
    answer = client.post("/communities/guild/topics/t-1/decline", data={"csrf_token": csrf})
    assert answer.status_code == 422
    assert 'id="reason-t-1-error"' in answer.text
    assert not any(r.url.path == "/topics/t-1/decline" for r in services.sent)


def test_a_time_that_is_not_one_is_passed_on_for_the_service_to_name() -> None:
    body = schedule_body({"starts_at": "soon", "duration_minutes": "an hour"}, "ada")
    assert body["starts_at"] == "soon"
    assert body["duration_minutes"] == "an hour"


def test_goals_are_laid_out_month_by_month_in_the_charters_order() -> None:
    months = ["2026-01", "2026-02", "2026-03"]
    members_goal, rate_goal = (
        ("members >= 3", "members", 3),
        ("participation_rate >= 0.6", "participation_rate", 0.6),
    )
    windows = [
        month("2026-01", [goal(*members_goal, 2, False), goal(*rate_goal, 0.75, True)]),
        month("2026-03", [goal(*members_goal, 4, True), goal(*rate_goal, 0.5, False)]),
    ]
    board = goals_by_month(months, windows)
    assert [r.goal for r in board.rows] == ["members >= 3", "participation_rate >= 0.6"]
    assert [r.said for r in board.rows] == ["members ≥ 3", "participation rate ≥ 60.0%"]
    members, participation = board.rows
    assert [(c.met, c.shown) if c else None for c in members.cells] == [
        (False, "2"),
        None,
        (True, "4"),
    ]
    assert [(c.met, c.shown) if c else None for c in participation.cells] == [
        (True, "75.0%"),
        None,
        (False, "50.0%"),
    ]


def test_the_health_dashboard_shows_each_goal_met_or_not(
    client: TestClient, services: Services
) -> None:
    this_month = month_key(datetime.now(UTC).date())
    services.trend = [month(this_month, [goal("members >= 3", "members", 3, 2, False)])]
    page = client.get("/communities/guild/health").text
    row = re.search(r'<tr data-goal="members &gt;= 3">.*?</tr>', page, re.S)
    assert row
    assert f'data-month="{this_month}" data-met="false"' in row[0]
    assert row[0].count("\N{EN DASH}") == 11, "the other months were not judged"
    services.trend = []
    assert 'id="no-goals"' in client.get("/communities/guild/health").text
