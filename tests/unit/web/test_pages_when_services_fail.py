"""The pages with the services replaced by a mock transport: a service that fails blanks only
its parts, nothing answers 500, and a form without its CSRF token is refused."""

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.bootstrap import bootstrap
from services.web.settings import WebSettings
from tests.unit.web import pages

CHARTER = {"purpose": "Share <b>how</b> we build", "goals": [], "success_measures": []}
COMMUNITY = {**pages.COMMUNITY, "charter": CHARTER}
PAGE = {"total": 0, "page": 1, "size": 10, "items": []}


def answer(request: httpx.Request) -> httpx.Response:
    host, path = request.url.port, request.url.path
    if host == 8083:  # recognition is failing
        return httpx.Response(503, json={"title": "Not ready"})
    if path == "/communities/guild":
        return httpx.Response(200, json=COMMUNITY)
    if path == "/communities":
        return httpx.Response(200, json={**PAGE, "items": [COMMUNITY], "total": 1})
    if path.startswith("/communities/guild/"):
        return httpx.Response(200, json=PAGE)
    return httpx.Response(404, json={"title": "Not found", "detail": "no such thing"})


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = bootstrap(WebSettings(), transport=httpx.MockTransport(answer))
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path", ["/", "/communities/guild", "/communities/guild/health", "/review"]
)
def test_a_failing_service_blanks_only_its_parts(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert "recognition is not answering; try again in a minute" in page.text
    assert "Platform Guild" in page.text


def test_user_text_is_escaped(client: TestClient) -> None:
    assert "Share &lt;b&gt;how&lt;/b&gt; we build" in client.get("/communities/guild").text


def test_an_unknown_community_is_a_404_page(client: TestClient) -> None:
    page = client.get("/communities/nobody")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]


@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.post("/sign-in", data={"member_id": "ada"}),
        lambda c: c.post("/sign-in", data={"member_id": "ada", "csrf_token": "f" * 64}),
        lambda c: c.post("/kudos", data={"to_ids": "grace"}),
    ],
)
def test_a_post_without_the_sites_csrf_token_is_refused(
    client: TestClient, send: Callable[[TestClient], httpx.Response]
) -> None:
    client.get("/sign-in")
    refused = send(client)
    assert refused.status_code == 403
    assert "cop_session" not in refused.cookies


def test_every_page_has_a_strict_content_security_policy(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_dev_sign_in_is_refused_outside_local_use() -> None:
    with pytest.raises(ValueError, match="WEB_DEV_SIGN_IN"):
        WebSettings(cop_env="production", auth_token_secret="x" * 40, web_dev_sign_in=True)
    assert not WebSettings(cop_env="production", auth_token_secret="x" * 40).dev_sign_in
