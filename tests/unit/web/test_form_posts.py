"""Every form a page sends, with the services replaced by a mock transport: the address is
checked first, then the form's CSRF token, then that the sender is signed in (if not: off to
sign in and back), and only then is anything sent to a service; what a service answers becomes
a redirect or the page again with its refusal."""

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.unit.web.pages import COMMUNITY, csrf_token, signed_in

ROUND = {
    "round_id": "r-1",
    "community_id": "guild",
    "status": "open",
    "template": "team",
    "cards": [{"card_id": "pace", "title": "Pace"}],
}
PAGE = {"total": 0, "page": 1, "size": 10, "items": []}
CREATED = {
    "/communities/guild/topics": {"topic_id": "t-2"},
    "/communities/guild/health-checks": {"round_id": "r-9"},
}
FORM_POSTS = [
    "/communities/guild/join",
    "/sessions/s-1/check-in",
    "/me/preferences",
    "/kudos",
    "/chat/link",
    "/communities/guild/health-checks",
    "/health-checks/r-1/answers",
    "/health-checks/r-1/close",
    "/communities/guild/topics",
    "/communities/guild/topics/t-1/vote",
    "/communities/guild/topics/t-1/take-back",
    "/communities/guild/topics/t-1/schedule",
    "/communities/guild/topics/t-1/decline",
]
MEMBERS_PAGES = [
    "/me",
    "/kudos?to=grace",
    "/chat/link",
    "/communities/guild/health-checks",
    "/health-checks/r-1",
    "/communities/guild/topics?sort=new",
]


def refusal(detail: str) -> dict[str, Any]:
    return {"type": "urn:cop:problem:test:refused", "title": "Conflict", "status": 409,
            "detail": detail, "code": "refused"}  # fmt: skip


class Services:
    """The services as the forms reach them: reads answer from fixtures, writes are accepted
    unless their path is in `refused`; what was sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.refused: dict[str, str] = {}

    def writes(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.sent if r.method != "GET"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        path = request.url.path
        if request.method != "GET":
            if path in self.refused:
                return httpx.Response(409, json=refusal(self.refused[path]))
            return httpx.Response(202, json={"event_id": "e-1", **CREATED.get(path, {})})
        if path == "/communities/guild":
            return httpx.Response(200, json=COMMUNITY)
        if path == "/communities/guild/health-checks":
            return httpx.Response(200, json={"rounds": []})
        if path == "/health-checks/r-1":
            return httpx.Response(200, json=ROUND)
        if path == "/health-checks/r-1/answers/me":
            return httpx.Response(200, json={"cards": {}})
        if path == "/communities/guild/votes/me":
            return httpx.Response(200, json={"budget": 5, "active": 0, "left": 5})
        if path.startswith("/communities/guild/"):
            return httpx.Response(200, json=PAGE)
        return httpx.Response(404, json={"title": "Not found"})


@pytest.fixture
def services() -> Services:
    return Services()


@pytest.mark.parametrize("path", FORM_POSTS)
def test_a_form_without_the_sites_csrf_token_is_refused_and_nothing_is_sent(
    client: TestClient, services: Services, path: str
) -> None:
    signed_in(client, "ada")
    refused = client.post(path, data={"reason": "dup"}, follow_redirects=False)
    assert refused.status_code == 403
    assert "This form was not sent from this site" in refused.text
    assert services.writes() == []


@pytest.mark.parametrize("path", FORM_POSTS)
def test_a_form_from_a_visitor_sends_them_to_sign_in_and_back(
    client: TestClient, services: Services, path: str
) -> None:
    token = csrf_token(client)
    answer = client.post(path, data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sign-in?next={quote(path)}"
    assert services.writes() == []


@pytest.mark.parametrize("path", [p.replace("guild", "-guild") for p in FORM_POSTS if "guild" in p])
def test_an_address_that_is_not_valid_is_refused_before_the_form_is_read(
    client: TestClient, path: str
) -> None:
    answer = client.post(path, data={}, follow_redirects=False)
    assert answer.status_code == 422
    assert "That address is not valid" in answer.text


@pytest.mark.parametrize("path", MEMBERS_PAGES)
def test_a_members_page_sends_a_visitor_to_sign_in_and_back(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sign-in?next={quote(path)}"


def test_an_opened_round_is_shown_and_a_refused_one_keeps_what_was_typed(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "ada")
    form = {"csrf_token": csrf, "template": "team", "closes_at": "2027-01-02T10:00",
            "min_respondents": "4", "idempotency_key": "k-1"}  # fmt: skip
    opened = client.post("/communities/guild/health-checks", data=form, follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/health-checks/r-9"
    sent = next(r for r in services.sent if r.method == "POST")
    assert sent.headers["idempotency-key"] == "k-1"
    services.refused["/communities/guild/health-checks"] = "a round is open already"
    refused = client.post("/communities/guild/health-checks", data=form)
    assert refused.status_code == 422
    assert "a round is open already" in refused.text
    assert 'value="4"' in refused.text, "the minimum the leader had typed"


def test_answers_are_saved_by_the_rounds_cards_and_none_at_all_is_refused_before_sending(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "grace")
    answers = {"csrf_token": csrf, "colour:pace": "green", "colour:other": "red"}
    saved = client.post("/health-checks/r-1/answers", data=answers, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/health-checks/r-1?saved=true"
    put = next(r for r in services.sent if r.method == "PUT")
    assert json.loads(put.content) == {"cards": {"pace": {"colour": "green"}}}
    refused = client.post("/health-checks/r-1/answers", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "give at least one card a colour" in refused.text
    assert services.writes() == ["PUT /health-checks/r-1/answers"], "the first answers only"


def test_closing_a_round_shows_it_or_the_refusal(client: TestClient, services: Services) -> None:
    csrf = signed_in(client, "ada")
    closed = client.post(
        "/health-checks/r-1/close", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert closed.status_code == 303
    assert closed.headers["location"] == "/health-checks/r-1"
    services.refused["/health-checks/r-1/close"] = "too few have answered"
    refused = client.post("/health-checks/r-1/close", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "too few have answered" in refused.text


def test_a_proposed_topic_and_a_vote_taken_back_go_back_to_the_topic_in_the_order_picked(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "grace")
    kept = {"csrf_token": csrf, "status": "open", "sort": "new"}
    proposed = client.post(
        "/communities/guild/topics",
        data={**kept, "title": "Mutation testing", "idempotency_key": "k-2"},
        follow_redirects=False,
    )
    assert proposed.status_code == 303
    assert (
        proposed.headers["location"] == "/communities/guild/topics?status=open&sort=new#topic-t-2"
    )
    taken_back = client.post(
        "/communities/guild/topics/t-1/take-back", data=kept, follow_redirects=False
    )
    assert taken_back.status_code == 303
    assert taken_back.headers["location"].endswith("?status=open&sort=new#topic-t-1")
    assert services.writes() == ["POST /communities/guild/topics", "DELETE /topics/t-1/vote"]


def test_a_refused_proposal_is_shown_next_to_the_form(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "grace")
    services.refused["/communities/guild/topics"] = "that title is taken"
    refused = client.post(
        "/communities/guild/topics", data={"csrf_token": csrf, "title": "Mutation testing"}
    )
    assert refused.status_code == 422
    assert "that title is taken" in refused.text
    assert 'value="Mutation testing"' in refused.text


def test_joining_shows_the_refusal_on_the_community_and_a_check_in_goes_back_to_the_session(
    client: TestClient, services: Services
) -> None:
    csrf = signed_in(client, "grace")
    services.refused["/communities/guild/members"] = "the community is archived"
    refused = client.post("/communities/guild/join", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "the community is archived" in refused.text
    checked_in = client.post(
        "/sessions/s-1/check-in", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert checked_in.status_code == 303
    assert checked_in.headers["location"] == "/sessions/s-1"
    check_in = next(r for r in services.sent if r.url.path == "/sessions/s-1/check-ins")
    assert json.loads(check_in.content) == {"member_id": "grace"}
