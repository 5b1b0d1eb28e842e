"""The web pages in headless Chromium (Debian's, driven by Selenium and ChromeDriver) against
the real services started as processes on free ports, each run with its own topics."""

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from copctl.devstack import browser
from tests.e2e.platform import Platform, running_platform
from tests.infra import Infrastructure
from tests.integration.apps import bearer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
T = TypeVar("T")


def poll(probe: Callable[[], T | None], *, what: str, timeout_s: float = 20.0) -> T:
    """The probe's first truthy answer; fails the test with `what` after the time-out."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass(frozen=True)
class World:
    """What the tests find on the pages: one community with members, an artifact, user text
    that tries to run script."""

    community: str
    leader: str
    member: str
    artifact_title: str
    session: str
    session_starts: datetime


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("browser")
    namespace = f"web{uuid.uuid4().hex[:8]}"
    with running_platform(
        infra, base, namespace, webhook_path="/hooks/cop", webhook_secret="browser-secret"
    ) as running_one:
        yield running_one


HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="module")
def world(platform: Platform) -> World:
    suffix = uuid.uuid4().hex[:6]
    leader, member, community = f"ada-{suffix}", f"grace-{suffix}", f"guild-{suffix}"
    title = "Contract testing with Pact"
    urls = platform.urls
    with httpx.Client(timeout=15, headers=bearer("ops", admin=True)) as http:
        created = http.post(
            f"{urls['events']}/communities?wait=true",
            json={
                "community_id": community,
                "name": "Platform Guild",
                "domain": "platform engineering",
                "leader_id": leader,
                "stage": "maturing",
                "charter": {
                    "purpose": f"Share how we build the platform. {HOSTILE}",
                    "scope": "CI, deployment, observability",
                    "goals": ["Fewer flaky tests", 'See <a href="javascript:alert(1)">this</a>'],
                    "success_measures": ["Half of the teams reuse a playbook"],
                },
            },
        )
        assert created.status_code == 202, created.text
        joined = http.post(  # the leader is a member from the start
            f"{urls['events']}/communities/{community}/members?wait=true",
            json={"member_id": member},
        )
        assert joined.status_code == 202, joined.text
        profile = http.put(
            f"{urls['events']}/members/{member}/profile?wait=true",
            json={"name": "Grace Hopper", "email": f"{member}@example.com", "team": "compilers"},
        )
        assert profile.status_code == 202, profile.text
        published = http.post(
            f"{urls['knowledge']}/artifacts?wait=true",
            headers=bearer(leader),
            json={
                "community_id": community,
                "kind": "playbook",
                "title": title,
                "summary": "Consumer-driven contracts between our services",
                "body_markdown": "Write the consumer's expectations first; verify the provider.",
                "tags": ["testing"],
            },
        )
        assert published.status_code in (200, 202), published.text

        def searchable() -> bool:
            found = http.get(
                f"{urls['knowledge']}/search", params={"q": "pact", "community": community}
            )
            return found.status_code == 200 and found.json()["total"] > 0

        poll(searchable, what="the artifact in knowledge's search")
        starts = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
        scheduled = http.post(
            f"{urls['events']}/communities/{community}/sessions?wait=true",
            headers=bearer(leader),
            json={
                "session_id": f"demo-{suffix}",
                "title": "Demo day: what we shipped",
                "format": "demo_day",
                "starts_at": starts.isoformat(),
                "duration_minutes": 45,
                "location": "Room 4 and online",
                "facilitator_id": leader,
                "speaker_ids": [member],
                "agenda": ["Welcome", "Three demos", "Questions"],
            },
        )
        assert scheduled.status_code == 202, scheduled.text
    return World(community, leader, member, title, f"demo-{suffix}", starts)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    chromium, chromedriver = browser.install()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in browser.FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,1000")
    started = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    started.set_page_load_timeout(30)
    try:
        yield started
    finally:
        started.quit()


def screenshot(driver: WebDriver, name: str) -> Path:
    """A full-height screenshot of the page, for docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    # The window is taller than the page it shows by the browser's own frame (~140 px headless).
    frame = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(1280, min(max(int(height) + int(frame) + 40, 600), 4000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path
