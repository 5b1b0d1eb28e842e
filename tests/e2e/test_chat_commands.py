"""Chat slash commands end to end: requests signed exactly as Slack, Mattermost and Teams sign
them, posted to the running web edge, acting on the running services as the linked member."""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from services.web.bootstrap import bootstrap
from services.web.settings import WebSettings
from shared.auth import issue_token
from shared.settings import ServiceSettings
from tests.chat_requests import (
    MATTERMOST_TOKENS,
    SLACK_SECRET,
    TEAMS_SECRET,
    Signed,
    mattermost,
    minutes_ago,
    slack,
    teams,
)
from tests.e2e.platform import Platform, running_platform
from tests.infra import Infrastructure
from tests.integration.apps import bearer, serving
from tests.integration.polling import eventually

pytestmark = pytest.mark.e2e

ALLOWANCE = 4
CHAT_ENV = {
    "WEB_SLACK_SIGNING_SECRET": SLACK_SECRET,
    "WEB_MATTERMOST_TOKENS": ",".join(MATTERMOST_TOKENS),
    "WEB_TEAMS_SECRET": TEAMS_SECRET,
    "WEB_CHAT_RESPONSE_HOSTS": "127.0.0.1",
    "KUDOS_ALLOWANCE": str(ALLOWANCE),
}


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("chat")
    namespace = f"chat{uuid.uuid4().hex[:8]}"
    with running_platform(
        infra, base, namespace, webhook_path="/hooks/cop", webhook_secret="chat-secret",
        env=CHAT_ENV,
    ) as running_one:  # fmt: skip
        yield running_one


@dataclass(frozen=True)
class Guild:
    community: str
    leader: str
    grace: str
    alan: str
    session: str
    session_starts: datetime


def _ok(answer: httpx.Response) -> None:
    assert answer.status_code in (200, 202), answer.text


@pytest.fixture(scope="module")
def guild(platform: Platform) -> Guild:
    suffix = uuid.uuid4().hex[:6]
    leader, grace, alan = f"ada-{suffix}", f"grace-{suffix}", f"alan-{suffix}"
    community = f"guild-{suffix}"
    events = platform.urls["events"]
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, microsecond=0)
    with httpx.Client(timeout=15, headers=bearer("ops", admin=True)) as http:
        _ok(
            http.post(
                f"{events}/communities?wait=true",
                json={
                    "community_id": community,
                    "name": "Platform Guild",
                    "domain": "platform engineering",
                    "leader_id": leader,
                    "stage": "maturing",
                    "charter": {"purpose": "Share how we build the platform."},
                },
            )
        )
        for member, name, zone in (
            (leader, "Ada Lovelace", "Europe/London"),
            (grace, "Grace Hopper", "America/New_York"),
            (alan, "Alan Turing", "UTC"),
        ):
            _ok(
                http.put(
                    f"{events}/members/{member}/profile?wait=true",
                    json={"name": name, "email": f"{member}@example.com", "timezone": zone},
                )
            )
        _ok(
            http.post(
                f"{events}/communities/{community}/members?wait=true", json={"member_id": grace}
            )
        )
        _ok(
            http.post(
                f"{events}/communities/{community}/sessions?wait=true",
                headers=bearer(leader),
                json={
                    "session_id": f"brownbag-{suffix}",
                    "title": "Brown bag: flaky tests",
                    "format": "brown_bag",
                    "starts_at": starts.isoformat(),
                    "duration_minutes": 45,
                    "facilitator_id": leader,
                },
            )
        )
        _ok(
            http.post(
                f"{platform.urls['knowledge']}/artifacts?wait=true",
                headers=bearer(leader),
                json={
                    "community_id": community,
                    "kind": "playbook",
                    "title": "Quarantining flaky tests",
                    "summary": "Find, fence and fix tests that fail at random",
                    "body_markdown": "Quarantine first, then fix the cause.",
                    "tags": ["testing"],
                },
            )
        )
    return Guild(community, leader, grace, alan, f"brownbag-{suffix}", starts)


def profile(platform: Platform, member: str, name: str) -> None:
    answer = httpx.put(
        f"{platform.urls['events']}/members/{member}/profile?wait=true",
        headers=bearer("ops", admin=True),
        json={"name": name, "email": f"{member}@example.com"},
        timeout=15,
    )
    _ok(answer)


def link(
    platform: Platform, member: str, chat: str, user_id: str, workspace: str, name: str
) -> None:
    """Bind a chat account to a member as the edge does once both ends are proved."""
    answer = httpx.put(
        f"{platform.urls['events']}/members/{member}/chat-identities?wait=true",
        headers=bearer("cop-web", admin=True),
        json={"platform": chat, "workspace_id": workspace, "user_id": user_id, "user_name": name},
        timeout=15,
    )
    _ok(answer)


async def send(platform: Platform, chat: str, signed: Signed) -> httpx.Response:
    body, headers = signed
    async with httpx.AsyncClient(timeout=15) as http:
        return await http.post(f"{platform.urls['web']}/chat/{chat}", content=body, headers=headers)


async def said(platform: Platform, chat: str, signed: Signed) -> str:
    """The answer's text, checked to be in the platform's payload shape."""
    answer = await send(platform, chat, signed)
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    if chat == "teams":
        assert payload["type"] == "message"
    else:
        assert payload["response_type"] == "ephemeral"
    text = payload["text"]
    assert isinstance(text, str)
    return text


def kudos_received(platform: Platform, member: str) -> int:
    answer = httpx.get(f"{platform.urls['recognition']}/members/{member}/kudos", timeout=15)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["received"])


def api_kudos(platform: Platform, giver: str, to: str, community: str) -> None:
    answer = httpx.post(
        f"{platform.urls['recognition']}/kudos?wait=true",
        headers=bearer(giver),
        json={"to_ids": [to], "community_id": community, "value_tag": "mentoring",
              "message": "for the mentoring"},
        timeout=15,
    )  # fmt: skip
    _ok(answer)


def preferences(platform: Platform, member: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{platform.urls['notifier']}/members/{member}/preferences",
        headers=bearer(member),
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def members_of(platform: Platform, community: str) -> set[str]:
    answer = httpx.get(
        f"{platform.urls['events']}/communities/{community}/members",
        params={"size": 200},
        timeout=15,
    )
    return {m["member_id"] for m in answer.json()["items"]}


@pytest.fixture(scope="module")
def slack_ids(platform: Platform, guild: Guild) -> dict[str, str]:
    """Slack accounts of the leader, Grace and Alan, linked; Alan's only by his user name."""
    ids = {guild.leader: "U0ADA", guild.grace: "U0GRACE", guild.alan: "U0ALAN"}
    for member, user_id in ids.items():
        link(platform, member, "slack", user_id, "T0TEAM", member.split("-")[0])
    return ids


async def test_an_unlinked_account_is_told_to_link_and_nothing_else_happens(
    platform: Platform, guild: Guild
) -> None:
    before = kudos_received(platform, guild.grace)
    text = await said(
        platform, "slack",
        slack(f"@{guild.grace} thanks #collaboration in:{guild.community}", command="/kudos",
              user_id="U0STRANGER"),
    )  # fmt: skip
    assert "not linked" in text
    assert "/cop link" in text
    assert kudos_received(platform, guild.grace) == before


async def test_linking_through_the_signed_link_and_the_sign_in(
    platform: Platform, guild: Guild
) -> None:
    text = await said(
        platform, "slack", slack("link", user_id="U0NEWCOMER", user_name="alan", team_id="T0OTHER")
    )
    url = re.search(r"<(http[^|>]+/chat/link\?t=[^|>]+)\|", text)
    assert url, text
    web = platform.urls["web"]
    path = url.group(1).replace("&amp;", "&").split("/chat/link", 1)[1]
    session = issue_token(ServiceSettings().auth_token_secret, guild.alan)
    async with httpx.AsyncClient(base_url=web, timeout=15) as browser:
        not_signed_in = await browser.get("/chat/link" + path)
        assert not_signed_in.status_code == 303
        assert not_signed_in.headers["location"].startswith("/sign-in?next=")
        browser.cookies.set("cop_session", session)
        page = await browser.get("/chat/link" + path)
        assert page.status_code == 200
        assert "Link this account to me" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert csrf
        assert token
        forged = await browser.post("/chat/link", data={"csrf_token": csrf.group(1), "token": "x"})
        assert forged.status_code == 400
        done = await browser.post(
            "/chat/link", data={"csrf_token": csrf.group(1), "token": token.group(1)}
        )
        assert done.status_code == 200, done.text
        assert 'id="linked"' in done.text
    me = await said(platform, "slack", slack("me", user_id="U0NEWCOMER", team_id="T0OTHER"))
    assert guild.alan in me
    assert f"{ALLOWANCE} of {ALLOWANCE} kudos left" in me


async def test_a_slack_kudos_counts_by_the_same_policy_as_the_api(
    platform: Platform, guild: Guild, slack_ids: dict[str, str]
) -> None:
    before_grace, before_alan = (
        kudos_received(platform, guild.grace),
        kudos_received(platform, guild.alan),
    )
    text = await said(
        platform,
        "slack",
        slack(
            "<@U0GRACE|grace> @alan <@U0ADA|ada> thanks for pairing on the flaky test "
            f"#collaboration in:{guild.community}",
            command="/kudos",
            user_id=slack_ids[guild.leader],
        ),
    )
    assert f"Kudos for {guild.grace}, {guild.alan} counted" in text, text
    assert "you: kudos cannot be given to yourself" in text
    assert kudos_received(platform, guild.grace) == before_grace + 1
    assert kudos_received(platform, guild.alan) == before_alan + 1
    # The same allowance: the API spends one more, and chat finds one left, then none.
    api_kudos(platform, guild.leader, guild.grace, guild.community)
    refused = await said(
        platform, "slack",
        slack(f"<@U0GRACE|grace> @alan again #collaboration in:{guild.community}", command="/kudos",
              user_id=slack_ids[guild.leader]),
    )  # fmt: skip
    assert refused.startswith("No kudos sent:"), refused
    assert "allowance" in refused
    assert "renews on" in refused
    assert kudos_received(platform, guild.grace) == before_grace + 2
    unknown_tag = await said(
        platform, "slack",
        slack(f"@{guild.grace} thanks #vibes in:{guild.community}", command="/kudos",
              user_id=slack_ids[guild.leader]),
    )  # fmt: skip
    assert "value_tag must be one of" in unknown_tag


async def test_mattermost_join_and_notification_levels(platform: Platform, guild: Guild) -> None:
    link(platform, guild.alan, "mattermost", "mm-alan", "mmteam", "alan")
    joined = await said(
        platform, "mattermost", mattermost(f"join {guild.community}", user_id="mm-alan")
    )
    assert "You are a member" in joined
    assert guild.alan in members_of(platform, guild.community)
    muted = await said(
        platform, "mattermost", mattermost(f"mute {guild.community}", user_id="mm-alan")
    )
    assert "muted" in muted
    assert preferences(platform, guild.alan)["communities"][guild.community] == "muted"


@pytest.fixture(scope="module")
def teams_linked(platform: Platform, guild: Guild) -> None:
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    link(platform, guild.leader, "teams", "aad-ada", tenant, "Ada")
    link(platform, guild.grace, "teams", "29:grace", tenant, "Grace")


@pytest.mark.usefixtures("teams_linked")
async def test_teams_kudos_sessions_search_and_health(platform: Platform, guild: Guild) -> None:
    before = kudos_received(platform, guild.grace)
    text = await said(
        platform, "teams",
        teams(f"kudos <at>Grace Hopper</at> for the review #mentoring in:{guild.community}",
              user_id="aad-ada", mentioned={"Grace Hopper": "29:grace"}),
    )  # fmt: skip
    assert f"Kudos for {guild.grace} counted" in text, text
    assert kudos_received(platform, guild.grace) == before + 1

    sessions = await said(
        platform, "teams", teams(f"sessions {guild.community}", user_id="aad-ada")
    )
    local = guild.session_starts.astimezone(ZoneInfo("Europe/London"))
    assert local.strftime("%a %d %b %H:%M") in sessions
    assert "Europe/London" in sessions
    assert f"/sessions/{guild.session})" in sessions
    assert f"/sessions/{guild.session}/calendar.ics" in sessions

    async def found() -> str | None:
        text = await said(platform, "teams", teams("search flaky tests", user_id="aad-ada"))
        return text if "Quarantining flaky tests" in text else None

    hits = await eventually(found, what="the playbook in chat search")
    assert "/artifacts/" in hits

    health = await said(platform, "teams", teams(f"health {guild.community}", user_id="aad-ada"))
    assert "participation rate" in health
    assert "/health" in health


async def test_a_leader_maps_a_channel_and_kudos_there_need_no_community(
    platform: Platform, guild: Guild, slack_ids: dict[str, str]
) -> None:
    refused = await said(
        platform, "slack",
        slack(f"channel {guild.community}", user_id=slack_ids[guild.grace], channel_id="C0GUILD"),
    )  # fmt: skip
    assert refused.startswith("Not mapped:"), refused
    mapped = await said(
        platform, "slack",
        slack(f"channel {guild.community}", user_id=slack_ids[guild.leader], channel_id="C0GUILD"),
    )  # fmt: skip
    assert f"now {guild.community}'s" in mapped
    in_channel = await said(
        platform, "slack", slack("sessions", user_id=slack_ids[guild.grace], channel_id="C0GUILD")
    )
    assert "Brown bag: flaky tests" in in_channel
    elsewhere = await said(
        platform, "slack", slack("sessions", user_id=slack_ids[guild.grace], channel_id="C0ELSE")
    )
    assert "Which community?" in elsewhere


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("dance", "is not a command"),
        ("", "Commands:"),
        ("kudos @nobody-at-all thanks #collaboration in:x", "no such member"),
        ("kudos " + "x" * 10_000, "a command takes at most"),
        ("sessions no-such-community", "There is no community"),
    ],
)
async def test_bad_input_gets_a_short_answer(
    platform: Platform, guild: Guild, slack_ids: dict[str, str], text: str, says: str
) -> None:
    answer = await said(platform, "slack", slack(text, user_id=slack_ids[guild.grace]))
    assert says in answer
    assert len(answer) < 1000  # a short answer (the help is the longest)


def metric(platform: Platform, outcome: str, chat: str) -> float:
    """`cop_chat_requests_total` for a platform and outcome, from the web edge's /metrics."""
    text = httpx.get(f"{platform.urls['web']}/metrics", timeout=15).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "cop_chat_requests_total"
                and labels.get("cop_chat_platform") == chat
                and labels.get("outcome") == outcome
            ):
                return float(sample.value)
    return 0.0


@pytest.mark.usefixtures("teams_linked")
async def test_forged_stale_and_replayed_requests_do_nothing(
    platform: Platform, guild: Guild, slack_ids: dict[str, str]
) -> None:
    ada = slack_ids[guild.leader]
    join = f"join {guild.community}"
    forged_before = metric(platform, "forged", "slack")
    cases: list[tuple[str, Signed, str]] = [
        ("slack", slack(join, user_id=ada, secret="not-the-signing-secret-at-all!!"), "forged"),
        ("slack", slack(join, user_id=ada, at=minutes_ago(6).timestamp()), "stale"),
        ("mattermost", mattermost(join, user_id="mm-alan", token="guessed-token"), "forged"),
        ("teams", teams(join, user_id="aad-ada", secret="b3RoZXIgc2VjcmV0IGtleQ=="), "forged"),
        ("teams", teams(join, user_id="aad-ada", sent=minutes_ago(6)), "stale"),
    ]
    for chat, signed, _ in cases:
        refused = await send(platform, chat, signed)
        assert refused.status_code == 401, (chat, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "detail" not in refused.json()
    assert metric(platform, "forged", "slack") == forged_before + 1
    assert metric(platform, "stale", "teams") >= 1

    once = slack(
        f"<@U0GRACE|grace> replayed? #knowledge_sharing in:{guild.community}",
        command="/kudos", user_id=slack_ids[guild.alan],
    )  # fmt: skip
    before = kudos_received(platform, guild.grace)
    first = await send(platform, "slack", once)
    assert first.status_code == 200
    assert "counted" in first.json()["text"]
    again = await send(platform, "slack", once)
    assert again.status_code == 401
    assert kudos_received(platform, guild.grace) == before + 1
    assert metric(platform, "replayed", "slack") >= 1
    teams_once = teams("me", user_id="aad-ada")
    assert (await send(platform, "teams", teams_once)).status_code == 200
    assert (await send(platform, "teams", teams_once)).status_code == 401


async def test_a_slow_answer_is_acknowledged_and_posted_to_the_response_url(
    platform: Platform, guild: Guild, slack_ids: dict[str, str]
) -> None:
    """A web edge that waits no time at all: every answer goes through `response_url`."""
    settings = WebSettings(
        web_slack_signing_secret=SecretStr(SLACK_SECRET),
        web_chat_response_hosts="127.0.0.1",
        web_chat_answer_within_s=0,
        events_url=platform.urls["events"],
        knowledge_url=platform.urls["knowledge"],
        recognition_url=platform.urls["recognition"],
        notifier_url=platform.urls["notifier"],
        mongodb_database=f"{platform.namespace}_web",
    )
    respond_to = f"http://127.0.0.1:{platform.sinks.chat_port}/respond/{uuid.uuid4().hex}"
    body, headers = slack(
        f"sessions {guild.community}", user_id=slack_ids[guild.grace], response_url=respond_to
    )
    async with serving(bootstrap(settings), "web") as web:
        acknowledged = await web.post("/chat/slack", content=body, headers=headers)
        assert acknowledged.status_code == 200
        assert acknowledged.json() == {"response_type": "ephemeral", "text": "Working on it…"}

        async def delivered() -> dict[str, Any] | None:
            path = respond_to.split(str(platform.sinks.chat_port), 1)[1]
            return next((p for p in platform.sinks.posts() if p["path"] == path), None)

        post = await eventually(delivered, what="the answer at the response_url")
    assert "Brown bag: flaky tests" in post["body"]["text"]
    assert post["body"]["response_type"] == "ephemeral"


async def test_the_backlog_from_chat_propose_list_and_vote(
    platform: Platform, guild: Guild, slack_ids: dict[str, str]
) -> None:
    grace = slack_ids[guild.grace]
    proposed = await said(
        platform,
        "slack",
        slack(f"propose Property-based testing in:{guild.community}", user_id=grace),
    )
    assert "Proposed “Property-based testing”" in proposed
    await said(
        platform, "slack", slack(f"propose Mutation testing in:{guild.community}", user_id=grace)
    )
    listed = await said(platform, "slack", slack(f"topics {guild.community}", user_id=grace))
    assert "1. " in listed
    assert "Property-based testing — 0 votes" in listed
    assert "You have 5 of 5 votes left" in listed
    number = next(line.split(".")[0] for line in listed.splitlines() if "Mutation testing" in line)
    voted = await said(platform, "slack", slack(f"vote {number} {guild.community}", user_id=grace))
    assert "Your vote is on “Mutation testing”" in voted
    assert "4 of 5 votes left" in voted
    again = await said(platform, "slack", slack(f"topics {guild.community}", user_id=grace))
    assert again.splitlines()[1].startswith("1. Mutation testing — 1 votes (your vote)")
    stranger = f"edsger-{uuid.uuid4().hex[:6]}"
    profile(platform, stranger, "Edsger Dijkstra")
    link(platform, stranger, "slack", "U0EDSGER", "T0TEAM", "edsger")
    outsider = await said(platform, "slack", slack(f"vote 1 {guild.community}", user_id="U0EDSGER"))
    assert outsider.startswith("Not voted:"), "not a member of the community"


def own_service(platform: Platform, service: str, team: str) -> None:
    owned = httpx.put(
        f"{platform.urls['impact']}/services/{service}?wait=true",
        headers=bearer("ops", admin=True),
        json={"team": team},
        timeout=15,
    )
    assert owned.status_code in (200, 202), owned.text


@pytest.mark.usefixtures("teams_linked")
async def test_a_teams_impact_from_chat(platform: Platform) -> None:
    own_service(platform, "payments-api", "payments")
    text = await said(platform, "teams", teams("impact payments", user_id="aad-ada"))
    assert text.startswith("payments, ")
    assert "deployments: 0" in text
    assert "change failure rate" in text
    assert "members attending sessions" in text
    unknown = await said(platform, "teams", teams("impact nobody-team", user_id="aad-ada"))
    assert "nobody-team" in unknown
