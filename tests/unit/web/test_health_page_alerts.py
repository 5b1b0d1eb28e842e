"""The health dashboard's list of alerts: a month's alert names its month, a health-check
round's names its card and round (the services replaced by a mock transport)."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.bootstrap import bootstrap
from services.web.settings import WebSettings
from tests.unit.web import pages

ALERTS = {
    "community_id": "guild",
    "alerts": [
        {"alert": "dominance", "period": "2026-10", "details": {}, "raised_at": None},
        {
            "alert": "health_check_red",
            "period": "hc-7f3a",
            "details": {"card": "safety", "title": "Safe <to> speak", "template": "cop-health"},
            "raised_at": None,
        },
    ],
}


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/communities/guild/alerts":
        return httpx.Response(200, json=ALERTS)
    if request.url.path == "/communities/guild":
        return httpx.Response(200, json=pages.COMMUNITY)
    return httpx.Response(503, json={"title": "Not ready"})


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = bootstrap(WebSettings(), transport=httpx.MockTransport(answer))
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


def test_month_and_round_alerts_each_say_what_they_are_about(client: TestClient) -> None:
    page = client.get("/communities/guild/health")
    assert page.status_code == 200
    assert "<strong>dominance</strong> in 2026-10</li>" in page.text
    assert (
        "<strong>health check red</strong>: “Safe &lt;to&gt; speak” in round "
        '<a href="/health-checks/hc-7f3a">hc-7f3a</a></li>' in page.text
    )
