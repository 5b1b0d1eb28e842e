"""The impact pages with the impact service replaced by a mock transport: what the team page,
the facts behind a figure and the association view make of its answers, and what they show when
it fails or does not know the team."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from services.web.bootstrap import bootstrap
from services.web.domain.health import months_back, quarter_of
from services.web.domain.impact import change_shown, judged, shown
from services.web.settings import WebSettings
from shared.team_impact import DataQuality, Dora, Participation

TODAY = datetime.now(UTC).date()
MONTHS = months_back(TODAY, 12)
TEAM = "pay/ments"  # a team's name may hold a '/'


def dora(**figures: Any) -> dict[str, Any]:
    base = Dora(
        deployments=0,
        deployment_days=0,
        lead_time_median_h=None,
        change_failure_rate=0,
        restore_median_h=None,
        open_incidents=0,
    )
    return base.model_copy(update=figures).model_dump()


def participation(**figures: Any) -> dict[str, Any]:
    base = Participation(
        members=4,
        attending_members=0,
        participation_share=0,
        sessions_attended=0,
        artifacts_authored=0,
        reuses_by_team=0,
        kudos_received=0,
    )
    return base.model_copy(update=figures).model_dump()


QUALITY = DataQuality(
    changes_without_merge=2,
    negative_lead_times=0,
    deployments_without_change=1,
    incidents_resolved_before_detected=0,
    incidents_without_service=0,
    services_without_owner=3,
).model_dump()


def month(key: str) -> dict[str, Any]:
    attended = key == MONTHS[-3]
    return {
        "period": key,
        "dora": dora(deployments=4, change_failure_rate=0.5, lead_time_median_h=27.0)
        if key == MONTHS[-2]
        else dora(),
        "participation": participation(
            sessions_attended=3 if attended else 0,
            attending_members=2 if attended else 0,
            participation_share=0.5 if attended else 0,
        ),
        "data_quality": QUALITY,
    }


TREND = {"team": TEAM, "from": MONTHS[0], "to": MONTHS[-1], "months": [month(m) for m in MONTHS]}
QUARTER = {
    "period": quarter_of(TODAY),
    "team": TEAM,
    "dora": dora(deployments=6, lead_time_median_h=10.0, change_failure_rate=0.25),
    "participation": participation(participation_share=0.5),
    "data_quality": QUALITY,
    "previous": {
        "period": "the quarter before",
        "dora": dora(deployments=3, lead_time_median_h=20.0, change_failure_rate=0.1),
        "participation": participation(participation_share=0.25),
    },
}
FACTS = {
    "team": TEAM,
    "period": MONTHS[-2],
    "metric": "failures",
    "total": 1,
    "facts": [
        {
            "kind": "deployment",
            "at": f"{MONTHS[-2]}-05T10:00:00Z",
            "service_id": "service/pay-api",
            "artifact_id": "pkg:oci/pay@2",
            "changes": ["github.com/acme/pay/pull/2"],
            "failure": {
                "cause": "rollback",
                "at": f"{MONTHS[-2]}-05T11:00:00Z",
                "incident_id": None,
            },
        }
    ],
}


def association(n: int) -> dict[str, Any]:
    teams = [
        {
            "team": f"team-{i}",
            "participation_share": i / 10,
            "changes": {
                "deployments": i,
                "lead_time_median_h": None,
                "change_failure_rate": -0.1,
                "restore_median_h": None,
            },
        }
        for i in range(n)
    ]
    shown_ = n >= 5
    return {
        "quarter": "2026-Q2",
        "next_quarter": "2026-Q3",
        "label": "association, not cause",
        "note": "A note from the service.",
        "min_teams": 5,
        "teams": teams,
        "correlations": {
            "deployments": {"n": n, "spearman_rho": 1.0 if shown_ else None, "shown": shown_},
            "lead_time_median_h": {"n": 0, "spearman_rho": None, "shown": False},
            "change_failure_rate": {"n": n, "spearman_rho": None, "shown": False},
            "restore_median_h": {"n": 0, "spearman_rho": None, "shown": False},
        },
    }


Handler = Callable[[httpx.Request], httpx.Response]


def impact_answers(teams_in_association: int = 3) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.port != 8085:
            return httpx.Response(404, json={"title": "Not found"})
        if path == "/teams":
            return httpx.Response(
                200, json=[{"team": TEAM, "services": ["service/pay-api"], "members_ever": 4}]
            )
        if path == "/teams/pay/ments/impact/trend":
            return httpx.Response(200, json=TREND)
        if path == "/teams/pay/ments/impact":
            return httpx.Response(200, json=QUARTER)
        if path == "/teams/pay/ments/impact/facts":
            return httpx.Response(200, json=FACTS)
        if path == "/impact/association":
            return httpx.Response(200, json=association(teams_in_association))
        return httpx.Response(404, json={"title": "Not found", "code": "unknown_team"})

    return answer


def client_with(handler: Handler) -> Iterator[TestClient]:
    app = bootstrap(WebSettings(), transport=httpx.MockTransport(handler))
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield from client_with(impact_answers())


def test_the_teams_page_links_each_team_to_its_page(client: TestClient) -> None:
    page = client.get("/teams")
    assert page.status_code == 200
    assert 'href="/teams/pay/ments"' in page.text
    assert "service/pay-api" in page.text
    assert '<a href="/teams">Teams</a>' in page.text  # in the top navigation


def quarter_row(page: str, metric: str) -> str:
    return page.split("<tbody>")[2].split(f'data-metric="{metric}"')[1].split("</tr>")[0]


def test_the_team_page_shows_the_months_marks_sessions_and_opens_figures(
    client: TestClient,
) -> None:
    page = client.get("/teams/pay/ments")
    assert page.status_code == 200
    text = page.text
    assert f'<tr data-month="{MONTHS[-3]}" class="attended">' in text
    assert text.count('class="attended"') == 1
    facts = f"/teams/pay/ments/facts?period={MONTHS[-2]}&amp;metric="
    deployments = f'<td data-metric="deployments" data-value="4.0"><a href="{facts}deployments">4'
    assert deployments in text
    failures = f'data-value="0.5"><a href="{facts}failures">50.0%'
    assert failures in text
    assert '"attended": [' in text  # the charts' JSON carries the months with sessions
    # this quarter against the one before: a shorter lead time is better, more failures worse
    assert 'data-metric="lead_time_median_h" data-value="10.0" data-previous="20.0"' in text
    assert 'class="trend-better"' in quarter_row(text, "lead_time_median_h")
    assert 'class="trend-worse"' in quarter_row(text, "change_failure_rate")
    # what the numbers miss, each with the contract's definition
    assert 'data-gap="changes_without_merge" class="gap-found"' in text
    definition = DataQuality.model_fields["services_without_owner"].description or ""
    assert str(escape(definition)) in text


def test_the_facts_behind_a_figure_say_why_a_deployment_failed(client: TestClient) -> None:
    page = client.get("/teams/pay/ments/facts", params={"period": MONTHS[-2], "metric": "failures"})
    assert page.status_code == 200
    assert "pkg:oci/pay@2" in page.text
    assert "rolled back at" in page.text
    bad = client.get("/teams/pay/ments/facts", params={"period": "soon", "metric": "failures"})
    assert bad.status_code == 422


def test_the_association_hides_rho_below_five_teams_and_says_it_is_no_cause() -> None:
    for n, rho_shown in ((3, False), (6, True)):
        for client in client_with(impact_answers(n)):
            text = client.get("/impact/association", params={"quarter": "2026-Q2"}).text
            assert "Association, not cause." in text
            assert "cannot say" in text
            row = text.split('<tr data-metric="deployments"')[1].split("</tr>")[0]
            assert f'data-shown="{"true" if rho_shown else "false"}"' in row
            assert ("\N{GREEK SMALL LETTER RHO} = +1.00 across 6 teams" in row) is rho_shown
            if not rho_shown:
                assert "not shown: 3 teams with both figures, at least 5 needed" in row


def test_a_failing_impact_service_blanks_the_figures_and_an_unknown_team_is_a_404() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"title": "Not ready"})

    for client in client_with(failing):
        page = client.get("/teams/pay/ments")
        assert page.status_code == 200
        assert "impact is not answering; try again in a minute" in page.text
    for client in client_with(impact_answers()):
        assert client.get("/teams/nobody").status_code == 404


def test_figures_arrows_and_changes_are_shown_as_a_reader_expects() -> None:
    assert shown("change_failure_rate", 0.125) == "12.5%"
    assert shown("lead_time_median_h", None) == "\N{EN DASH}"
    assert shown("lead_time_median_h", 27.0) == "27.00"
    assert judged("lead_time_median_h", "down") == "better"
    assert judged("deployments", "down") == "worse"
    assert judged("participation_share", "up") == "none"
    assert change_shown("deployments", 3.0) == "+3"
    assert change_shown("change_failure_rate", -0.1) == "\N{MINUS SIGN}10.0 pp"
    assert change_shown("restore_median_h", None) == "\N{EN DASH}"
