"""The impact pages in a real browser: five teams with a constructed CI/CD history sent through
the gateway as CDEvents, their members and sessions written as events with their own times.
The team page must show the figures the test computes for a month, drill down to the
deployments behind them, and the association view must say it is no cause and hide what too
few teams cannot tell."""

import asyncio
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from bench.cicd_facts import Fact, at, cdevent
from shared.events.cdevents import FAMILIES
from tests.browser.conftest import poll, screenshot
from tests.browser.test_pages import accessibility_problems, wait
from tests.e2e.platform import Platform
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.kafka_io import produce_events
from tests.integration.recognition.histories import History

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# A team's index is how many of its four members attend: its participation share is index / 4.
TEAMS = ("data", "mobile", "platform", "search", "payments")
MEMBERS_PER_TEAM = 4
PRODUCTION = ("production", "prod")
BATCH = "application/cloudevents-batch+json"
RHO = "\N{GREEK SMALL LETTER RHO}"
MONTH_ATTENDEES = ("payments-0", "payments-1")  # at a session in payments' constructed month


def service_of(team: str) -> str:
    return f"service/{team}-api"


def month_key(year: int, month: int) -> str:
    """`month` may run below 1 (into the year before)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return f"{year:04d}-{month:02d}"


def quarter_key(first_month: str) -> str:
    return f"{first_month[:4]}-Q{(int(first_month[5:]) - 1) // 3 + 1}"


@dataclass(frozen=True)
class Impact:
    """What the pages are expected to show, computed here from the facts the test sends."""

    quarter: str  # Q: two quarters back, ended
    next_quarter: str  # the last quarter that ended
    quarter_months: list[str]
    next_months: list[str]
    month: str  # the constructed month of payments: the first of the next quarter
    facts: list[Fact]
    shares: dict[str, float]
    attended_months: set[str]  # payments' months with sessions attended

    def deployments(self, team: str, months: Sequence[str]) -> list[Fact]:
        return sorted(
            (
                f
                for f in self.facts
                if f.kind in ("deployed", "upgraded")
                and f.environment in PRODUCTION
                and f.subject == service_of(team)
                and f.at.strftime("%Y-%m") in months
            ),
            key=lambda f: f.at,
        )

    def failed(self, team: str, months: Sequence[str]) -> list[Fact]:
        """By the definition: an incident names the artifact, or a rollback of the service
        comes while the deployment is its latest."""
        ours = self.deployments(team, months)
        every = self.deployments(team, [f.at.strftime("%Y-%m") for f in self.facts])
        named = {f.artifact for f in self.facts if f.kind == "detected" and f.artifact}
        rollbacks = [
            f.at
            for f in self.facts
            if f.kind == "rolledback"
            and f.subject == service_of(team)
            and f.environment in PRODUCTION
        ]
        failed = []
        for d in ours:
            later = [e.at for e in every if e.at > d.at]
            until = min(later) if later else None
            hit = any(r >= d.at and (until is None or r < until) for r in rollbacks)
            if d.artifact in named or hit:
                failed.append(d)
        return failed


def quarters_now() -> tuple[list[str], list[str]]:
    today = datetime.now(UTC)
    first = (today.month - 1) // 3 * 3 + 1
    quarter = [month_key(today.year, first - 6 + i) for i in range(3)]
    following = [month_key(today.year, first - 3 + i) for i in range(3)]
    return quarter, following


def constructed_month(month: str) -> list[Fact]:
    """Payments' month: a change deployed then redeployed, a change deployed and rolled back,
    an artifact deployed to staging then production and named by an incident."""
    pay = service_of("payments")
    c1, c2 = f"github.com/acme/pay/pull/{month}-1", f"github.com/acme/pay/pull/{month}-2"
    return [
        Fact("merged", at(f"{month}-01 09:00"), c1),
        Fact("packaged", at(f"{month}-01 09:10"), "pkg:oci/pay@a1", change=c1),
        Fact("deployed", at(f"{month}-02 12:00"), pay, "production", "pkg:oci/pay@a1"),
        Fact("merged", at(f"{month}-04 08:00"), c2),
        Fact("packaged", at(f"{month}-04 09:10"), "pkg:oci/pay@a2", change=c2),
        Fact("upgraded", at(f"{month}-05 10:00"), pay, "prod", "pkg:oci/pay@a2"),
        Fact("rolledback", at(f"{month}-05 11:00"), pay, "production", "pkg:oci/pay@a1"),
        Fact("deployed", at(f"{month}-09 10:00"), pay, "staging", "pkg:oci/pay@a3"),
        Fact("deployed", at(f"{month}-10 10:00"), pay, "production", "pkg:oci/pay@a3"),
        Fact(
            "detected",
            at(f"{month}-10 12:00"),
            "INC-1",
            "production",
            "pkg:oci/pay@a3",
            service=pay,
        ),
        Fact("resolved", at(f"{month}-10 15:30"), "INC-1"),
        Fact("deployed", at(f"{month}-15 10:00"), pay, "production", "pkg:oci/pay@a1"),
    ]


def deliveries(quarter: list[str], following: list[str]) -> list[Fact]:
    """Every team deploys once in the quarter and `1 + index` times in the next (payments
    once besides its constructed month); search and payments merge and package their changes,
    so only they have a lead time in both quarters."""
    facts: list[Fact] = []
    for index, team in enumerate(TEAMS):
        times = [(quarter[1], 0)] + [
            (following[1], n) for n in range(1 if team == "payments" else 1 + index)
        ]
        for month, n in times:
            artifact = f"pkg:oci/{team}@{month}-{n}"
            deployed = at(f"{month}-{10 + n:02d} 14:00")
            if team in ("search", "payments"):
                change = f"github.com/acme/{team}/pull/{month}-{n}"
                facts.append(Fact("merged", at(f"{month}-{10 + n:02d} 08:00"), change))
                facts.append(
                    Fact("packaged", at(f"{month}-{10 + n:02d} 08:30"), artifact, change=change)
                )
            facts.append(Fact("deployed", deployed, service_of(team), "production", artifact))
    return facts


def people(suffix: str, quarter: list[str], month: str) -> tuple[History, dict[str, float]]:
    """The teams' members (from before the quarter) and two sessions: one in the quarter that
    `index` members of each team attend, one in payments' month with two of its members."""
    h = History(suffix, community="impact")
    h.created(f"{quarter[0]}-01 08:00", "lead")
    attendees, shares = [], {}
    for index, team in enumerate(TEAMS):
        members = [f"{team}-{n}" for n in range(MEMBERS_PER_TEAM)]
        for name in members:
            h.profile(f"{quarter[0]}-01 09:00", name, team)
        h.joined(f"{quarter[0]}-01 10:00", *members)
        attendees += members[:index]
        shares[team] = index / MEMBERS_PER_TEAM
    h.held(f"{quarter[1]}-12 18:00", "s-quarter", "lead", attendees=attendees)
    h.held(f"{month}-20 18:00", "s-month", "lead", attendees=MONTH_ATTENDEES)
    return h, shares


@pytest.fixture(scope="module")
def impact(platform: Platform, infra: Infrastructure) -> Impact:
    quarter, following = quarters_now()
    month = following[0]
    facts = [*deliveries(quarter, following), *constructed_month(month)]
    history, shares = people(uuid.uuid4().hex[:6], quarter, month)
    urls = platform.urls
    with httpx.Client(timeout=15, headers=bearer("ops", admin=True)) as http:
        for team in TEAMS:
            owned = http.put(
                f"{urls['impact']}/services/{service_of(team)}?wait=true", json={"team": team}
            )
            assert owned.status_code == 202, owned.text
        source = http.post(f"{urls['events']}/sources", json={"name": "ci", "types": [*FAMILIES]})
        assert source.status_code == 201, source.text
        key = source.json()["api_key"]
        sent = [cdevent(f, f"ci-{n}-{uuid.uuid4().hex[:8]}") for n, f in enumerate(facts)]
        ingested = http.post(
            f"{urls['events']}/ingest",
            content=json.dumps(sent),
            headers={"Authorization": f"Bearer {key}", "content-type": BATCH},
        )
        assert ingested.status_code == 200, ingested.text
        assert ingested.json()["rejected"] == 0, ingested.text
    asyncio.run(
        produce_events(infra.kafka_bootstrap_servers, platform.topic_prefix, history.in_order())
    )
    return Impact(
        quarter=quarter_key(quarter[0]),
        next_quarter=quarter_key(following[0]),
        quarter_months=quarter,
        next_months=following,
        month=month,
        facts=facts,
        shares=shares,
        attended_months={quarter[1], month},
    )


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson's correlation of the ranks (ties share their mean rank), computed here."""

    def ranks(values: Sequence[float]) -> list[float]:
        ordered = sorted(values)
        return [
            sum(i + 1 for i, v in enumerate(ordered) if v == x) / ordered.count(x) for x in values
        ]

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    covariance = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    spread = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return covariance / spread


def cells(driver: WebDriver, row_selector: str) -> dict[str, str]:
    found = driver.find_elements(By.CSS_SELECTOR, row_selector)
    if not found:
        return {}
    return {
        c.get_attribute("data-metric") or "": c.get_attribute("data-value") or ""
        for c in found[0].find_elements(By.CSS_SELECTOR, "td[data-metric]")
    }


def team_page_as_computed(driver: WebDriver, platform: Platform, impact: Impact) -> dict[str, str]:
    """Payments' page, once it shows what the test computes for the constructed month and the
    quarter before this one (the impact service applies the events a moment after they are
    sent): the month's row of the table."""
    page = f"{platform.urls['web']}/teams/payments"
    month = [impact.month]
    deployments = impact.deployments("payments", month)
    expected = {
        "deployments": float(len(deployments)),
        "change_failure_rate": round(len(impact.failed("payments", month)) / len(deployments), 4),
        "sessions_attended": float(len(MONTH_ATTENDEES)),
    }
    previous = float(len(impact.deployments("payments", impact.next_months)))

    def shown_as_computed() -> dict[str, str] | None:
        driver.get(page)
        row = cells(driver, f"#impact-table tr[data-month='{impact.month}']")
        attended = {
            r.get_attribute("data-month")
            for r in driver.find_elements(By.CSS_SELECTOR, "#impact-table tr.attended")
        }
        quarter = driver.find_elements(By.CSS_SELECTOR, "#quarter tr[data-metric='deployments']")
        before = quarter[0].get_attribute("data-previous") if quarter else None
        got = {m: float(row[m]) for m in expected if row.get(m)}
        if got == expected and attended == impact.attended_months and before:
            return row if float(before) == previous else None
        return None

    return poll(shown_as_computed, what="the month's figures as computed", timeout_s=90)


def test_the_team_page_shows_a_constructed_month_as_the_test_computes_it(
    driver: WebDriver, platform: Platform, impact: Impact
) -> None:
    month = [impact.month]
    deployments, failed = impact.deployments("payments", month), impact.failed("payments", month)
    assert (len(deployments), len(failed)) == (4, 2)  # the history is what the test meant
    row = team_page_as_computed(driver, platform, impact)
    assert float(row["deployments"]) == len(deployments)
    assert float(row["change_failure_rate"]) == len(failed) / len(deployments)
    table = driver.find_element(By.CSS_SELECTOR, f"#impact-table tr[data-month='{impact.month}']")
    shown = table.find_element(By.CSS_SELECTOR, "td[data-metric='change_failure_rate']").text
    assert shown.startswith(f"{len(failed) / len(deployments) * 100:.1f}%")
    # The charts carry the same numbers and mark the months the team attended sessions.
    data = json.loads(driver.find_element(By.ID, "impact-data").get_attribute("innerHTML") or "")
    at_month = data["months"].index(impact.month)
    assert data["series"]["deployments"][at_month] == len(deployments)
    assert {m for m, yes in zip(data["months"], data["attended"], strict=True) if yes} == (
        impact.attended_months
    )
    plot = wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#chart-deployments .plot[data-drawn]"))
    )
    assert plot.find_elements(By.TAG_NAME, "canvas")
    assert plot.get_attribute("data-marked") == str(len(impact.attended_months))
    # This quarter so far (no facts sent) beside the last that ended: fewer deployments, worse.
    quarter = driver.find_element(By.CSS_SELECTOR, "#quarter tr[data-metric='deployments']")
    assert quarter.get_attribute("data-value") == "0.0"
    assert quarter.find_element(By.CSS_SELECTOR, "td[class]").get_attribute("class") == (
        "trend-worse"
    )
    assert driver.find_elements(By.CSS_SELECTOR, "#data-quality tr[data-gap]")
    screenshot(driver, "team")


def test_a_figure_opens_on_the_deployments_behind_it(
    driver: WebDriver, platform: Platform, impact: Impact
) -> None:
    team_page_as_computed(driver, platform, impact)
    month = [impact.month]
    link = wait(driver).until(
        ec.element_to_be_clickable(
            (
                By.CSS_SELECTOR,
                f"#impact-table tr[data-month='{impact.month}'] td[data-metric='deployments'] a",
            )
        )
    )
    link.click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "facts")))
    rows = driver.find_elements(By.CSS_SELECTOR, "#facts tbody tr")
    assert [r.get_attribute("data-artifact") for r in rows] == [
        d.artifact for d in impact.deployments("payments", month)
    ]
    failed = {d.artifact for d in impact.failed("payments", month)}
    assert {
        r.get_attribute("data-artifact") for r in rows if r.get_attribute("data-failed") == "true"
    } == failed
    driver.find_element(By.LINK_TEXT, "Failed deployments").click()
    wait(driver).until(ec.url_contains("metric=failures"))
    reasons = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#facts tbody td.failure")]
    assert len(reasons) == len(failed)
    assert any("rolled back" in r for r in reasons)
    assert any("INC-1" in r for r in reasons)


def test_the_association_says_it_is_no_cause_and_hides_rho_below_five_teams(
    driver: WebDriver, platform: Platform, impact: Impact
) -> None:
    changes = {
        team: len(impact.deployments(team, impact.next_months))
        - len(impact.deployments(team, impact.quarter_months))
        for team in TEAMS
    }
    rho = spearman([impact.shares[t] for t in TEAMS], [changes[t] for t in TEAMS])
    page = f"{platform.urls['web']}/impact/association?quarter={impact.quarter}"

    def teams_as_computed() -> bool:
        driver.get(page)
        shown = {}
        for row in driver.find_elements(By.CSS_SELECTOR, "#association-teams tbody tr"):
            team = row.get_attribute("data-team") or ""
            share = row.find_element(By.CSS_SELECTOR, "td[data-value]").get_attribute("data-value")
            change = row.find_element(By.CSS_SELECTOR, "td[data-metric='deployments']")
            shown[team] = (float(share or "nan"), float(change.get_attribute("data-value") or 0))
        return shown == {t: (impact.shares[t], float(changes[t])) for t in TEAMS}

    poll(teams_as_computed, what="every team's share and change", timeout_s=90)
    label = driver.find_element(By.ID, "association-label").text
    assert label.startswith("Association, not cause.")
    assert "cannot say" in driver.find_element(By.ID, "association-caveat").text
    deployments = driver.find_element(
        By.CSS_SELECTOR, "#correlations tr[data-metric='deployments']"
    )
    assert deployments.get_attribute("data-shown") == "true"
    assert deployments.get_attribute("data-n") == str(len(TEAMS))
    assert f"{RHO} = {rho:+.2f} across {len(TEAMS)} teams" in deployments.text
    lead = driver.find_element(
        By.CSS_SELECTOR, "#correlations tr[data-metric='lead_time_median_h']"
    )
    assert (lead.get_attribute("data-shown"), lead.get_attribute("data-n")) == ("false", "2")
    assert "not shown" in lead.text
    assert f"{RHO} =" not in lead.text
    screenshot(driver, "association")


def test_teams_are_reached_from_the_navigation_and_the_review_links_the_association(
    driver: WebDriver, platform: Platform, impact: Impact
) -> None:
    web = platform.urls["web"]
    driver.get(f"{web}/review")
    link = driver.find_element(By.CSS_SELECTOR, "#association-link a")
    assert "/impact/association?quarter=" in (link.get_attribute("href") or "")
    driver.find_element(By.CSS_SELECTOR, "nav a[href='/teams']").click()
    listed = wait(driver).until(ec.presence_of_element_located((By.ID, "teams")))
    rows = listed.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert {r.get_attribute("data-team") for r in rows} >= set(TEAMS)
    driver.find_element(By.CSS_SELECTOR, "#teams a[href='/teams/payments']").click()
    wait(driver).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "payments"))
    assert service_of("payments") in driver.find_element(By.CSS_SELECTOR, "p.meta").text


@pytest.mark.parametrize(
    "path",
    [
        "/teams",
        "/teams/payments",
        "/teams/payments/facts?period={month}&metric=failures",
        "/impact/association?quarter={quarter}",
    ],
)
def test_the_impact_pages_have_no_serious_accessibility_violation(
    driver: WebDriver, platform: Platform, impact: Impact, path: str
) -> None:
    driver.get(platform.urls["web"] + path.format(month=impact.month, quarter=impact.quarter))
    wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "main")))
    assert accessibility_problems(driver) == []
