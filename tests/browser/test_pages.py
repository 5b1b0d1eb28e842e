"""A member's way through the pages in a real browser, and what the pages must never do."""

import asyncio
import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from copctl.devstack.processes import stop
from tests.browser.conftest import HOSTILE, World, poll, screenshot
from tests.e2e.platform import Platform
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.kafka_io import produce_events
from tests.integration.recognition import health_reference as reference
from tests.integration.recognition.histories import History

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def wait(driver: WebDriver, timeout_s: float = 15) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout_s)


def sign_in(driver: WebDriver, web: str, member: str, then: str = "/") -> None:
    driver.get(f"{web}/sign-in?next={then}")

    def filled(d: WebDriver) -> bool:
        """The form of the sign-in page, once loaded: a field found while the page before it
        was still being replaced belongs to a document that is gone (tried again)."""
        field = d.find_element(By.ID, "member_id")
        field.clear()
        field.send_keys(member)
        return field.get_attribute("value") == member

    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(filled)
    driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    wait(driver).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=viewer]"), member)
    )


def kudos_form(driver: WebDriver, to: str, community: str, tag: str, message: str) -> None:
    for name, value in (("to_ids", to), ("community_id", community), ("value_tag", tag)):
        field = driver.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    driver.find_element(By.ID, "message").send_keys(message)
    driver.find_element(By.CSS_SELECTOR, "#kudos-area form button[type=submit]").click()


def test_home_lists_the_community_with_its_stage_and_members(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    driver.get(platform.urls["web"] + "/")
    row = wait(driver).until(
        ec.presence_of_element_located(
            (By.XPATH, f"//a[@href='/communities/{world.community}']/ancestor::tr")
        )
    )
    assert "maturing" in row.text
    assert "Platform Guild" in row.text
    screenshot(driver, "home")


def test_a_member_signs_in_gives_kudos_and_sees_it_on_the_leaderboard(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web = platform.urls["web"]
    sign_in(driver, web, world.leader, then=f"/kudos?community={world.community}")
    assert driver.find_element(By.ID, "community_id").get_attribute("value") == world.community
    kudos_form(driver, world.member, world.community, "mentoring", "Thanks for pairing on CI!")
    answer = wait(driver, 20).until(ec.visibility_of_element_located((By.ID, "kudos-answer")))
    assert f"counted for {world.member}" in answer.text
    screenshot(driver, "kudos")

    def on_the_leaderboard() -> bool:
        driver.get(f"{web}/communities/{world.community}?period=month")
        boards = driver.find_elements(By.ID, "leaderboard")
        return bool(boards) and world.member in boards[0].text

    poll(on_the_leaderboard, what="the recipient on the leaderboard")
    feed = driver.find_element(By.CSS_SELECTOR, "ul.kudos").text
    assert "Thanks for pairing on CI!" in feed

    # The recipient's page, reached from the leaderboard: the kudos counted, no e-mail address
    # (the viewer is the giver, not the recipient).
    driver.find_element(By.CSS_SELECTOR, f"#leaderboard a[href='/members/{world.member}']").click()
    count = wait(driver).until(ec.presence_of_element_located((By.ID, "kudos-count")))
    assert count.text.startswith("1 kudos received")
    assert "Grace Hopper" in driver.find_element(By.TAG_NAME, "h1").text
    assert not driver.find_elements(By.ID, "email")
    assert "@example.com" not in driver.find_element(By.TAG_NAME, "main").text
    screenshot(driver, "member")


def test_search_finds_an_artifact_as_you_type(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    page = f"{platform.urls['web']}/communities/{world.community}"
    driver.get(page)
    box = driver.find_element(By.ID, "q")
    for letter in "pact":
        box.send_keys(letter)
    wait(driver).until(ec.text_to_be_present_in_element((By.ID, "results"), world.artifact_title))
    assert driver.current_url == page  # results swapped in, no page load
    assert driver.find_elements(By.CSS_SELECTOR, "#results mark")
    screenshot(driver, "community")


def test_a_refused_kudos_shows_the_policy_detail_next_to_its_field(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web = platform.urls["web"]
    sign_in(driver, web, world.leader, then="/kudos")
    kudos_form(driver, world.member, world.community, "not-a-value", "Thanks!")
    error = wait(driver).until(ec.visibility_of_element_located((By.ID, "value_tag-error")))
    assert "mentoring" in error.text  # the policy's answer names the values it accepts
    field = driver.find_element(By.ID, "value_tag")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == "value_tag-error"

    kudos_form(driver, world.leader, world.community, "mentoring", "Me!")
    error = wait(driver).until(ec.visibility_of_element_located((By.ID, "to_ids-error")))
    assert error.text


def test_user_text_renders_inert(driver: WebDriver, platform: Platform, world: World) -> None:
    driver.get(f"{platform.urls['web']}/communities/{world.community}")
    charter = driver.find_element(By.ID, "charter-h").find_element(By.XPATH, "..")
    assert "<script>window.__pwned = 1</script>" in charter.text
    assert 'onerror="window.__pwned = 2"' in charter.text
    assert driver.execute_script("return window.__pwned") is None
    assert not charter.find_elements(By.TAG_NAME, "img")
    assert not charter.find_elements(By.TAG_NAME, "script")
    assert not driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript']")
    csp = httpx.get(f"{platform.urls['web']}/").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_members_are_listed_without_their_email(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    driver.get(f"{platform.urls['web']}/communities/{world.community}")
    members = driver.find_element(By.CSS_SELECTOR, "ul.members").text
    assert world.member in members
    assert "@example.com" not in driver.page_source


def test_a_form_without_its_csrf_token_is_refused(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web = platform.urls["web"]
    driver.get(f"{web}/sign-in")
    driver.execute_script("document.querySelector('form.stacked input[name=csrf_token]').remove();")
    driver.find_element(By.ID, "member_id").send_keys("mallory")
    driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    wait(driver).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "not sent from this site")
    )
    assert "mallory" not in driver.find_element(By.CLASS_NAME, "who").text

    # Without a browser: no cookie, no token, a forged token: refused alike.
    with httpx.Client(base_url=web) as http:
        assert http.post("/sign-in", data={"member_id": "mallory"}).status_code == 403
        http.get("/sign-in")
        forged = http.post("/sign-in", data={"member_id": "mallory", "csrf_token": "0" * 64})
        assert forged.status_code == 403
        assert "cop_session" not in http.cookies


def test_session_cookie_is_httponly_and_samesite_lax(platform: Platform) -> None:
    with httpx.Client(base_url=platform.urls["web"]) as http:
        page = http.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
        assert token
        signed = http.post("/sign-in", data={"member_id": "ada", "csrf_token": token[1]})
        assert signed.status_code == 303
        cookie = next(
            c for c in signed.headers.get_list("set-cookie") if c.startswith("cop_session=")
        )
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()


def test_health_dashboard_shows_every_metric_as_chart_and_table(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    driver.get(f"{platform.urls['web']}/communities/{world.community}/health")
    wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".plot[data-drawn] canvas"))
    )
    rows = driver.find_elements(By.CSS_SELECTOR, "#health-table tbody tr")
    assert len(rows) == 12
    # The table shows what recognition answers, month by month and metric by metric.
    months = [r.find_element(By.TAG_NAME, "th").text for r in rows]
    trend = httpx.get(
        f"{platform.urls['recognition']}/communities/{world.community}/health/trend",
        params={"from": months[0], "to": months[-1]},
    ).json()
    answered = {w["period"]: w["metrics"] for w in trend["months"]}
    for row, month in zip(rows, months, strict=True):
        for cell in row.find_elements(By.CSS_SELECTOR, "td[data-metric]"):
            metric = cell.get_attribute("data-metric") or ""
            expected = float(answered[month][metric]) if month in answered else 0.0
            assert float(cell.get_attribute("data-value") or "nan") == expected, (month, metric)
    assert answered[months[-1]]["members"] >= 1
    term = driver.find_element(By.CSS_SELECTOR, "#chart-participation_rate .term")
    driver.execute_script("arguments[0].focus()", term)
    definition = driver.find_element(By.ID, "def-participation_rate")
    assert definition.is_displayed()
    assert definition.text == "active_members / members"
    csv = httpx.get(f"{platform.urls['web']}/communities/{world.community}/health.csv")
    assert csv.status_code == 200
    assert csv.text.splitlines()[0].startswith("month,members,new_members,")


def test_the_quarterly_review_shows_each_community_beside_the_quarter_before_and_prints(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web, recognition = platform.urls["web"], platform.urls["recognition"]
    driver.get(f"{web}/review")
    quarters = [
        o.get_attribute("value") or ""
        for o in driver.find_elements(By.CSS_SELECTOR, "#quarter option")
    ]
    assert len(quarters) == 8
    selected = driver.find_element(By.CSS_SELECTOR, "#quarter option[selected]")
    assert selected.get_attribute("value") == quarters[1], "the last quarter that ended"
    # The quarter in progress, chosen as a reader would: this community's activity is in it.
    Select(driver.find_element(By.ID, "quarter")).select_by_value(quarters[0])
    driver.find_element(By.CSS_SELECTOR, ".period-picker button").click()
    wait(driver).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "(in progress)"))
    section = wait(driver).until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, f"section.review[data-community='{world.community}']")
        )
    )
    answer = httpx.get(
        f"{recognition}/communities/{world.community}/health", params={"period": quarters[0]}
    ).json()
    rows = section.find_elements(By.CSS_SELECTOR, "tr[data-metric]")
    assert [r.get_attribute("data-metric") for r in rows][:2] == ["members", "participation_rate"]
    for row in rows:
        metric = row.get_attribute("data-metric") or ""
        assert float(row.get_attribute("data-value") or "nan") == answer["metrics"][metric]
        before = answer["previous"]["metrics"][metric]
        assert float(row.get_attribute("data-previous") or "nan") == before
    assert answer["metrics"]["members"] >= 1
    names = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "section.review h2")]
    assert names == sorted(names, key=str.lower), "in name order, never ranked"
    screenshot(driver, "review")

    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element(By.CSS_SELECTOR, "header.top").is_displayed()
        assert not driver.find_element(By.CSS_SELECTOR, ".period-picker").is_displayed()
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF-")


def test_a_session_page_shows_the_agenda_and_people_and_its_calendar_file_imports(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web = platform.urls["web"]
    driver.get(f"{web}/communities/{world.community}")
    driver.find_element(By.LINK_TEXT, "Demo day: what we shipped").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "agenda-h")))
    assert driver.current_url == f"{web}/sessions/{world.session}"
    main = driver.find_element(By.TAG_NAME, "main").text
    assert f"Facilitator: {world.leader}" in main
    assert f"Speakers: {world.member}" in main
    agenda = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#agenda-h + ol li")]
    assert agenda == ["Welcome", "Three demos", "Questions"]
    assert "Minutes follow once the session is held." in main
    screenshot(driver, "session")

    link = driver.find_element(By.PARTIAL_LINK_TEXT, "Add to calendar")
    download = httpx.get(link.get_attribute("href") or "")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(download.content).walk("VEVENT")
    assert str(event["uid"]) == f"session-{world.session}@cop-platform", "the invitations' UID"
    assert event.decoded("dtstart") == world.session_starts
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=45)
    assert str(event["summary"]) == "Demo day: what we shipped"
    assert str(event["location"]) == "Room 4 and online"


def test_an_artifact_renders_its_markdown_safely_and_shows_the_changes_between_versions(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web = platform.urls["web"]
    driver.get(f"{web}/communities/{world.community}")
    box = driver.find_element(By.ID, "q")
    box.send_keys("pact")
    link = wait(driver).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#results a.hit-title")))
    artifact = (link.get_attribute("href") or "").rsplit("/", 1)[1]
    revised = httpx.post(
        f"{platform.urls['knowledge']}/artifacts/{artifact}/revisions?wait=true",
        headers=bearer(world.leader),
        json={
            "change_note": "Steps as a list",
            "body_markdown": "## Steps\n\n1. Write the consumer's expectations first\n"
            "2. Verify the provider in its build\n\n"
            f"{HOSTILE}\n\n[a trap](javascript:alert(1)) and [the Pact docs](https://docs.pact.io)",
        },
        timeout=15,
    )
    assert revised.status_code in (200, 202), revised.text
    driver.get(f"{web}/artifacts/{artifact}")
    body = wait(driver).until(ec.presence_of_element_located((By.ID, "artifact-body")))
    assert body.find_element(By.TAG_NAME, "h2").text == "Steps"
    steps = [li.text for li in body.find_elements(By.CSS_SELECTOR, "ol li")]
    assert steps == ["Write the consumer's expectations first", "Verify the provider in its build"]
    assert driver.execute_script("return window.__pwned === undefined")
    assert not body.find_elements(By.TAG_NAME, "script")
    hrefs = [a.get_attribute("href") or "" for a in body.find_elements(By.TAG_NAME, "a")]
    assert "https://docs.pact.io/" in hrefs
    assert not any(h.startswith("javascript:") for h in hrefs)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#versions tbody tr")) == 2

    driver.find_element(By.CSS_SELECTOR, "#compare button").click()  # 1 against 2, as offered
    diff = wait(driver).until(ec.presence_of_element_located((By.ID, "diff")))
    added = [e.text for e in diff.find_elements(By.CSS_SELECTOR, ".d-add")]
    removed = [e.text for e in diff.find_elements(By.CSS_SELECTOR, ".d-del")]
    assert "+## Steps" in added
    assert any("verify the provider" in line for line in removed)
    screenshot(driver, "artifact")


def test_a_member_sees_their_own_email_on_their_page(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    sign_in(driver, platform.urls["web"], world.member, then=f"/members/{world.member}")
    email = wait(driver).until(ec.presence_of_element_located((By.ID, "email")))
    assert email.text == f"{world.member}@example.com"


AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"


def accessibility_problems(driver: WebDriver) -> list[str]:
    """axe-core's serious and critical violations on the page shown (WCAG 2.x A and AA)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => [v.impact, v.id, v.nodes.length])))"
        ".catch(e => done([['error', String(e), 0]]));"
    )
    return [
        f"{impact} {rule} ({nodes})"
        for impact, rule, nodes in found
        if impact in ("serious", "critical", "error")
    ]


def test_the_accessibility_check_finds_what_it_must(driver: WebDriver) -> None:
    """The check itself: a page without a language and with an image without text fails it."""
    driver.get("data:text/html,<html><body><main><img src='x.png'></main></body></html>")
    problems = " ".join(accessibility_problems(driver))
    assert "image-alt" in problems
    assert "html-has-lang" in problems


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/communities/{community}",
        "/communities/{community}/health",
        "/sessions/{session}",
        "/members/{member}",
        "/review",
        "/kudos",
        "/me",
        "/sign-in",
    ],
)
def test_the_main_pages_have_no_serious_accessibility_violation(
    driver: WebDriver, platform: Platform, world: World, path: str
) -> None:
    page = path.format(community=world.community, session=world.session, member=world.member)
    driver.get(platform.urls["web"] + page)
    wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "main")))
    assert accessibility_problems(driver) == []


def six_ended_months(today: datetime) -> list[str]:
    months = [reference.previous(reference.month_of(today))]
    while len(months) < 6:
        months.insert(0, reference.previous(months[0]))
    return months


def test_the_health_dashboard_shows_a_six_month_history_as_the_test_computes_it(
    driver: WebDriver, platform: Platform, infra: Infrastructure
) -> None:
    """A community whose six months are written as events with their own times, straight to the
    platform's topics; the table must show what `health_reference` computes from the same
    events by the definitions, month by month and metric by metric."""
    months = six_ended_months(datetime.now(UTC))
    h = History(uuid.uuid4().hex[:6], community="history")
    h.created(f"{months[0]}-01 09:00", "ada")
    h.profile(f"{months[0]}-01 09:30", "ada", "platform")
    for i, month in enumerate(months):
        newcomers = [f"m{2 * i}", f"m{2 * i + 1}"]
        h.joined(f"{month}-02 10:00", *(["ada"] if i == 0 else []), *newcomers)
        h.profile(f"{month}-02 11:00", newcomers[0], "payments" if i % 2 else "search")
        attendees = [f"m{j}" for j in range(i + 1)]
        h.held(f"{month}-12 18:00", f"s{i}", "ada", attendees=attendees)
        h.feedback(f"{month}-13 09:00", f"s{i}", "m0", 3 + i % 3, applied=i % 2 == 0)
        if i % 2 == 0:
            h.published(f"{month}-15 12:00", f"a{i}", "ada")
        if i >= 2:
            h.reused(f"{month}-20 12:00", "a0", newcomers[0], "payments")
    expected = {m: dict(h.health(m)) for m in months}
    asyncio.run(produce_events(infra.kafka_bootstrap_servers, platform.topic_prefix, h.in_order()))

    page = f"{platform.urls['web']}/communities/{h.community_id}/health"

    def table_as_computed() -> dict[str, dict[str, float]] | None:
        driver.get(page)
        shown: dict[str, dict[str, float]] = {}
        for row in driver.find_elements(By.CSS_SELECTOR, "#health-table tbody tr"):
            month = row.find_element(By.TAG_NAME, "th").text
            if month in expected:
                shown[month] = {
                    c.get_attribute("data-metric") or "": float(c.get_attribute("data-value") or 0)
                    for c in row.find_elements(By.CSS_SELECTOR, "td[data-metric]")
                }
        wanted = {m: {k: float(v) for k, v in e.items()} for m, e in expected.items()}
        return shown if shown == wanted else None

    poll(table_as_computed, what="the six months as the reference computes them", timeout_s=90)
    assert expected[months[-1]]["members"] == 13
    assert expected[months[-1]]["sessions_held"] == 1
    data = json.loads(driver.find_element(By.ID, "health-data").get_attribute("innerHTML") or "")
    chart_months = data["months"]
    for metric, values in data["series"].items():
        for month in months:
            assert values[chart_months.index(month)] == float(expected[month][metric]), metric
    wait(driver).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".plot[data-drawn] canvas"))
    )
    screenshot(driver, "health")


def test_a_member_sets_their_notification_preferences_from_the_me_page(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web = platform.urls["web"]
    sign_in(driver, web, world.member, then="/me")
    Select(driver.find_element(By.ID, "digest")).select_by_value("weekly")
    Select(driver.find_element(By.ID, f"level-{world.community}")).select_by_value("digest")
    tags = driver.find_element(By.ID, "tags")
    tags.clear()
    tags.send_keys("testing, #ci")
    for field, value in (("quiet_start", "22:00"), ("quiet_end", "07:00")):
        driver.execute_script(
            "arguments[0].value = arguments[1]", driver.find_element(By.ID, field), value
        )
    driver.find_element(By.CSS_SELECTOR, "#preferences button[type=submit]").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "saved")))
    stored = httpx.get(
        f"{platform.urls['notifier']}/members/{world.member}/preferences",
        headers=bearer(world.member),
    ).json()
    assert stored["digest"] == "weekly"
    assert stored["communities"] == {world.community: "digest"}
    assert stored["tags"] == ["testing", "ci"]
    assert stored["quiet_hours"]["start"].startswith("22:00")
    assert driver.find_element(By.ID, "tags").get_attribute("value") == "testing, ci"
    screenshot(driver, "me")

    # Half a quiet-hours pair: the notifier refuses it, the page says so next to the field.
    driver.execute_script("arguments[0].value = ''", driver.find_element(By.ID, "quiet_end"))
    driver.find_element(By.CSS_SELECTOR, "#preferences button[type=submit]").click()
    error = wait(driver).until(ec.presence_of_element_located((By.ID, "quiet_hours-error")))
    assert error.text
    again = httpx.get(
        f"{platform.urls['notifier']}/members/{world.member}/preferences",
        headers=bearer(world.member),
    ).json()
    assert again == stored, "nothing changed"


def test_a_newcomer_is_refused_a_check_in_then_joins_and_checks_in(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web, newcomer = platform.urls["web"], f"alan-{uuid.uuid4().hex[:6]}"
    sign_in(driver, web, newcomer, then=f"/sessions/{world.session}")
    driver.find_element(By.CSS_SELECTOR, "#check-in button").click()
    refusal = wait(driver).until(ec.presence_of_element_located((By.ID, "refusal")))
    assert refusal.text, "the events service's reason, shown as it said it"

    driver.get(f"{web}/communities/{world.community}")
    join = driver.find_element(By.CSS_SELECTOR, "#join button")
    join.click()
    wait(driver).until(ec.staleness_of(join))  # the page the answer brought, not the old one
    members = wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.members")))
    assert newcomer in members.text
    assert not driver.find_elements(By.ID, "join")

    driver.get(f"{web}/sessions/{world.session}")
    check_in = driver.find_element(By.CSS_SELECTOR, "#check-in button")
    check_in.click()
    wait(driver).until(ec.staleness_of(check_in))
    wait(driver).until(ec.presence_of_element_located((By.ID, "checked-in")))
    assert driver.find_element(By.ID, "attendance").text.startswith("1 checked in")


def topic_named(driver: WebDriver, title: str) -> WebElement:
    """The backlog's item for the topic with this title."""
    for item in driver.find_elements(By.CSS_SELECTOR, "li.topic"):
        if item.find_element(By.TAG_NAME, "h3").text == title:
            return item
    raise AssertionError(f"no topic {title!r} on the page")


def click_and_wait(driver: WebDriver, button: WebElement) -> None:
    """Sends the button's form and waits for the page the answer brings."""
    button.click()
    wait(driver).until(ec.staleness_of(button))


def votes_left(driver: WebDriver) -> int:
    return int(driver.find_element(By.ID, "budget").get_attribute("data-left") or "-1")


def api_topic(platform: Platform, community: str, member: str, title: str) -> str:
    made = httpx.post(
        f"{platform.urls['events']}/communities/{community}/topics?wait=true",
        headers=bearer(member),
        json={"title": title},
        timeout=15,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["topic_id"])


def api_vote(platform: Platform, member: str, topic_id: str) -> None:
    voted = httpx.put(
        f"{platform.urls['events']}/topics/{topic_id}/vote?wait=true",
        headers=bearer(member),
        timeout=15,
    )
    assert voted.status_code == 200, voted.text


def api_votes(platform: Platform, community: str, member: str) -> dict[str, int]:
    found = httpx.get(
        f"{platform.urls['events']}/communities/{community}/votes/me",
        headers=bearer(member),
        timeout=15,
    )
    assert found.status_code == 200, found.text
    return dict(found.json())


def test_a_member_proposes_topics_and_votes_with_the_budget_left_shown(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web, suffix = platform.urls["web"], uuid.uuid4().hex[:6]
    first, second = f"Property-based testing {suffix}", f"Feature flags without regret {suffix}"
    sign_in(driver, web, world.member, then=f"/communities/{world.community}")
    click_and_wait(driver, driver.find_element(By.ID, "topics-link"))
    assert accessibility_problems(driver) == []
    start = votes_left(driver)
    assert f"You have {start} of 5 votes left" in driver.find_element(By.ID, "budget").text

    driver.find_element(By.ID, "title").send_keys(first)
    driver.find_element(By.ID, "description").send_keys("Hypothesis on our parsers")
    driver.find_element(By.ID, "volunteer").click()
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "#propose button[type=submit]"))
    driver.find_element(By.ID, "title").send_keys(second)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "#propose button[type=submit]"))
    proposed = topic_named(driver, first)
    assert f"can present it: {world.member}" in proposed.text
    assert "Hypothesis on our parsers" in proposed.text
    assert proposed.get_attribute("data-votes") == "0"

    click_and_wait(
        driver, topic_named(driver, second).find_element(By.CSS_SELECTOR, "form.vote button")
    )
    assert votes_left(driver) == start - 1
    click_and_wait(
        driver, topic_named(driver, first).find_element(By.CSS_SELECTOR, "form.vote button")
    )
    assert votes_left(driver) == start - 2
    voted = topic_named(driver, first)
    assert voted.get_attribute("data-voted") == "true"
    assert voted.get_attribute("data-votes") == "1"
    assert "your vote" in voted.text
    take_back = voted.find_element(By.CSS_SELECTOR, "form.vote button")
    assert take_back.text.startswith("Take my vote back")
    click_and_wait(driver, take_back)
    assert votes_left(driver) == start - 1
    assert topic_named(driver, first).get_attribute("data-voted") == "false"
    assert api_votes(platform, world.community, world.member)["left"] == start - 1

    # Most wanted first: the later topic with a vote above the earlier one without.
    titles = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "li.topic h3")]
    assert titles.index(second) < titles.index(first)
    Select(driver.find_element(By.ID, "sort")).select_by_value("ready")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "#backlog-picker button"))
    ready = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "li.topic h3")]
    assert first in ready, "a volunteer speaker makes it ready"
    assert second not in ready


def test_the_leader_schedules_the_most_wanted_topic_and_declines_another(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web, suffix = platform.urls["web"], uuid.uuid4().hex[:6]
    wanted_title, other_title = f"Incident reviews {suffix}", f"Monorepo or not {suffix}"
    other = api_topic(platform, world.community, world.member, other_title)
    wanted = api_topic(platform, world.community, world.member, wanted_title)
    for member, topic in ((world.member, wanted), (world.leader, wanted), (world.member, other)):
        api_vote(platform, member, topic)
    active_before = api_votes(platform, world.community, world.member)["active"]

    sign_in(driver, web, world.leader, then=f"/communities/{world.community}/topics")
    items = driver.find_elements(By.CSS_SELECTOR, "li.topic")
    assert items[0].get_attribute("data-topic") == wanted, "the most wanted topic comes first"
    assert items[0].get_attribute("data-votes") == "2"
    assert accessibility_problems(driver) == []
    item = topic_named(driver, wanted_title)
    item.find_element(By.CSS_SELECTOR, "details.steward summary").click()
    Select(item.find_element(By.ID, f"format-{wanted}")).select_by_value("workshop")
    duration = item.find_element(By.ID, f"duration-{wanted}")
    duration.clear()
    duration.send_keys("90")
    assert accessibility_problems(driver) == [], "with the steward's forms open"
    screenshot(driver, "topics")
    click_and_wait(driver, item.find_element(By.CSS_SELECTOR, "form.schedule button"))

    link = wait(driver).until(ec.presence_of_element_located((By.ID, "scheduled-session")))
    session_id = (link.get_attribute("href") or "").rsplit("/", 1)[1]
    assert wanted not in [
        t.get_attribute("data-topic") for t in driver.find_elements(By.CSS_SELECTOR, "li.topic")
    ]
    click_and_wait(driver, link)
    assert wanted_title in driver.find_element(By.TAG_NAME, "h1").text
    topic = httpx.get(f"{platform.urls['events']}/topics/{wanted}", timeout=15).json()
    assert topic["status"] == "scheduled"
    assert topic["session_id"] == session_id
    session = httpx.get(
        f"{platform.urls['events']}/sessions/{session_id}", headers=bearer(world.leader), timeout=15
    ).json()
    assert session["facilitator_id"] == world.leader
    assert session["format"] == "workshop"
    assert session["duration_minutes"] == 90
    after = api_votes(platform, world.community, world.member)["active"]
    assert after == active_before - 1, "a scheduled topic's votes no longer count"

    driver.get(f"{web}/communities/{world.community}/topics")
    item = topic_named(driver, other_title)
    item.find_element(By.CSS_SELECTOR, "details.steward summary").click()
    item.find_element(By.ID, f"reason-{other}").send_keys("Covered by the architecture guild")
    click_and_wait(driver, item.find_element(By.CSS_SELECTOR, "form.decline button"))
    assert other_title not in [t.text for t in driver.find_elements(By.CSS_SELECTOR, "li.topic h3")]
    driver.get(f"{web}/communities/{world.community}/topics?status=declined")
    assert "Declined: Covered by the architecture guild" in topic_named(driver, other_title).text


def test_refused_votes_show_the_reason_next_to_their_topic(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web, suffix = platform.urls["web"], uuid.uuid4().hex[:6]
    title = f"Chaos days {suffix}"
    topic = api_topic(platform, world.community, world.member, title)

    outsider = f"mallory-{suffix}"
    sign_in(driver, web, outsider, then=f"/communities/{world.community}/topics")
    click_and_wait(
        driver, topic_named(driver, title).find_element(By.CSS_SELECTOR, "form.vote button")
    )
    refusal = driver.find_element(By.ID, f"refusal-{topic}")
    assert "only members" in refusal.text
    assert topic_named(driver, title).get_attribute("data-votes") == "0"

    # A member whose budget is spent: five votes on five other open topics.
    voter = f"barbara-{suffix}"
    joined = httpx.post(
        f"{platform.urls['events']}/communities/{world.community}/members?wait=true",
        headers=bearer(voter),
        json={"member_id": voter},
        timeout=15,
    )
    assert joined.status_code == 202, joined.text
    for n in range(5):
        api_vote(
            platform, voter, api_topic(platform, world.community, voter, f"Spent {n} {suffix}")
        )
    sign_in(driver, web, voter, then=f"/communities/{world.community}/topics")
    assert votes_left(driver) == 0
    click_and_wait(
        driver, topic_named(driver, title).find_element(By.CSS_SELECTOR, "form.vote button")
    )
    refusal = driver.find_element(By.ID, f"refusal-{topic}")
    assert "budget is 5" in refusal.text
    assert votes_left(driver) == 0
    assert topic_named(driver, title).get_attribute("data-voted") == "false"


def test_the_health_dashboard_shows_each_goal_met_or_not_month_by_month(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    events, recognition = platform.urls["events"], platform.urls["recognition"]
    charter = httpx.get(f"{events}/communities/{world.community}", timeout=15).json()["charter"]
    goals = [
        {"metric": "members", "comparison": ">=", "target": 1},
        {"metric": "sessions_held", "comparison": ">=", "target": 50},
    ]
    changed = httpx.patch(
        f"{events}/communities/{world.community}?wait=true",
        headers=bearer(world.leader),
        json={"charter": {**charter, "health_goals": goals}},
        timeout=15,
    )
    assert changed.status_code == 202, changed.text

    driver.get(f"{platform.urls['web']}/communities/{world.community}/health")
    months = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#health-table tbody th")]

    def judged() -> dict[str, dict[str, bool]] | None:
        trend = httpx.get(
            f"{recognition}/communities/{world.community}/health/trend",
            params={"from": months[0], "to": months[-1]},
            timeout=15,
        ).json()
        found = {m["period"]: {g["goal"]: g["met"] for g in m["goals"]} for m in trend["months"]}
        return found if all(len(g) == 2 for g in found.values()) and found else None

    answered = poll(judged, what="recognition judging the charter's goals")
    driver.get(f"{platform.urls['web']}/communities/{world.community}/health")
    rows = driver.find_elements(By.CSS_SELECTOR, "#goals-table tbody tr")
    assert [r.get_attribute("data-goal") for r in rows] == ["members >= 1", "sessions_held >= 50"]
    assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == [
        "members ≥ 1",
        "sessions held ≥ 50",
    ]
    for row in rows:
        goal = row.get_attribute("data-goal") or ""
        for cell in row.find_elements(By.CSS_SELECTOR, "td[data-met]"):
            month = cell.get_attribute("data-month") or ""
            assert cell.get_attribute("data-met") == str(answered[month][goal]).lower(), month
    latest = {r.get_attribute("data-goal"): r.find_elements(By.TAG_NAME, "td")[-1] for r in rows}
    assert latest["members >= 1"].text.startswith("✓")
    assert latest["sessions_held >= 50"].text.startswith("✗")
    assert accessibility_problems(driver) == []
    screenshot(driver, "health-goals")


def test_a_leader_opens_a_health_check_members_answer_and_the_matrix_shows_it(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    web, recognition = platform.urls["web"], platform.urls["recognition"]
    others = [f"alan-{uuid.uuid4().hex[:6]}", f"edsger-{uuid.uuid4().hex[:6]}"]
    for member in others:
        joined = httpx.post(
            f"{platform.urls['events']}/communities/{world.community}/members?wait=true",
            headers=bearer("ops", admin=True),
            json={"member_id": member},
            timeout=15,
        )
        assert joined.status_code == 202, joined.text

    sign_in(driver, web, world.leader, then=f"/communities/{world.community}/health-checks")
    Select(driver.find_element(By.ID, "template")).select_by_value("cop-health")
    opened = driver.find_element(By.CSS_SELECTOR, "#open-round button")
    opened.click()
    wait(driver).until(ec.staleness_of(opened))
    form = wait(driver).until(ec.presence_of_element_located((By.ID, "answers")))
    round_id = driver.current_url.rsplit("/", 1)[1].split("?")[0]
    assert len(form.find_elements(By.CSS_SELECTOR, "fieldset.card")) == 11

    # The leader answers on the page; two members through the API.
    driver.find_element(By.CSS_SELECTOR, "input[name='colour:help'][value='red']").click()
    driver.find_element(By.CSS_SELECTOR, "input[name='trend:help'][value='down']").click()
    driver.find_element(By.ID, "comment-help").send_keys("Questions wait days for an answer")
    driver.find_element(By.CSS_SELECTOR, "input[name='colour:fun'][value='green']").click()
    driver.find_element(By.CSS_SELECTOR, "#answers button[type=submit]").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "saved")))
    checked = driver.find_element(By.CSS_SELECTOR, "input[name='colour:help'][value='red']")
    assert checked.is_selected(), "the page shows the member's own answers while it is open"
    assert accessibility_problems(driver) == []
    screenshot(driver, "health-check-round")
    for member in others:
        answered = httpx.put(
            f"{recognition}/health-checks/{round_id}/answers",
            headers=bearer(member),
            json={"cards": {"help": {"colour": "green"}, "fun": {"colour": "amber"}}},
            timeout=15,
        )
        assert answered.status_code == 200, answered.text

    close = driver.find_element(By.CSS_SELECTOR, "#close-round button")
    close.click()
    wait(driver).until(ec.staleness_of(close))
    table = wait(driver).until(ec.presence_of_element_located((By.ID, "hc-results")))
    help_row = table.find_element(By.CSS_SELECTOR, "tr[data-card=help]").text
    # help: green, green, red -> score (2*2 + 0) / (2*3) = 0.67, mixed 1 - 2/3 = 0.33
    assert "green" in help_row
    assert "0.67" in help_row
    assert "0.33" in help_row
    fun_row = table.find_element(By.CSS_SELECTOR, "tr[data-card=fun]").text
    assert "amber" in fun_row, "two ambers and a green"

    driver.get(f"{web}/communities/{world.community}/health-checks")
    matrix = wait(driver).until(ec.presence_of_element_located((By.ID, "hc-matrix")))
    cell = matrix.find_element(By.CSS_SELECTOR, "tr[data-card=help] td.hc-cell")
    assert cell.get_attribute("data-colour") == "green"
    assert "members who gave" in matrix.text or "contributors with give" in matrix.text
    assert accessibility_problems(driver) == []
    screenshot(driver, "health-checks")


def test_a_stopped_service_blanks_only_its_parts(
    driver: WebDriver, platform: Platform, world: World
) -> None:
    """Last in the module: recognition stays stopped."""
    stop(f"{platform.namespace}-recognition")
    page = httpx.get(f"{platform.urls['web']}/communities/{world.community}", timeout=15)
    assert page.status_code == 200
    driver.get(f"{platform.urls['web']}/communities/{world.community}")
    notices = [n.text for n in driver.find_elements(By.CSS_SELECTOR, ".missing")]
    assert "recognition is not answering; try again in a minute" in notices
    assert "Share how we build the platform." in driver.find_element(By.TAG_NAME, "main").text
    assert world.member in driver.find_element(By.CSS_SELECTOR, "ul.members").text
    screenshot(driver, "community-recognition-down")
    driver.get(f"{platform.urls['web']}/communities/{world.community}/health")
    assert "recognition is not answering" in driver.find_element(By.TAG_NAME, "main").text
