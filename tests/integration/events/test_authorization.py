"""Who may do what in the events service, end to end: each refusal is a 403 problem+json whose
`code` names the rule; the leader, core members, the session's facilitator, the owner of an
action item and admins may do what their rule allows."""

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from shared.auth import ISSUER
from shared.settings import ServiceSettings
from tests.answers import answer_of
from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.integration.events.test_sessions import iso, schedule
from tests.problems import problem_of

pytestmark = pytest.mark.integration


@dataclass
class Guild:
    """lea leads, cora is core, fay facilitates the session, ann, mia are members, zed is not."""

    community_id: str
    session_id: str

    @property
    def members(self) -> str:
        return f"/communities/{self.community_id}/members"

    @property
    def session(self) -> str:
        return f"/sessions/{self.session_id}"


@pytest.fixture
async def guild(events: EventsApp) -> Guild:
    community_id = await events.new_community(leader="lea")
    members = f"/communities/{community_id}/members"
    await events.command("POST", members, {"member_id": "cora", "role": "core"})
    for member in ("fay", "ann", "mia"):
        await events.command("POST", members, {"member_id": member})
    return Guild(community_id, await schedule(events, community_id, facilitator_id="fay"))


async def as_member(
    events: EventsApp, member: str, method: str, url: str, json: Any = None
) -> httpx.Response:
    return await events.client.request(
        method, url, json=json, params={"wait": "true"}, headers=bearer(member)
    )


def forbidden(response: httpx.Response, code: str) -> None:
    problem = problem_of(response, 403)
    assert problem["code"] == code
    assert problem["type"] == f"urn:cop:problem:events:{code}"
    assert problem["status"] == 403


def allowed(response: httpx.Response) -> dict[str, Any]:
    body = answer_of(response, 202)
    assert body["applied"] is True
    return body


SESSION_BODY = {"title": "Kata", "format": "workshop", "starts_at": iso(3)}
# (who tries, method, url under the guild, body, the rule's code)
REFUSALS: dict[str, tuple[str, str, str, Any, str]] = {
    "update the community": (
        "fay", "PATCH", "{community}", {"stage": "coalescing"}, "not_leader_or_core",
    ),
    "change the leader": (
        "mia", "PUT", "{community}/leader", {"leader_id": "mia"}, "not_leader_or_core",
    ),
    "schedule a session someone else facilitates": (
        "mia", "POST", "{community}/sessions", {**SESSION_BODY, "facilitator_id": "fay"},
        "not_leader_or_core",
    ),
    "schedule as a stranger, even a session one facilitates": (
        "zed", "POST", "{community}/sessions", {**SESSION_BODY, "facilitator_id": "zed"},
        "not_leader_or_core",
    ),
    "give oneself the core role": (
        "zed", "POST", "{community}/members", {"member_id": "zed", "role": "core"},
        "not_leader_or_core",
    ),
    "join someone else": ("mia", "POST", "{community}/members", {"member_id": "zed"}, "not_self"),
    "remove a member": ("lea", "DELETE", "{community}/members/ann", None, "not_self"),
    "reschedule another's session": (
        "mia", "POST", "{session}/reschedule", {"starts_at": iso(4)},
        "not_facilitator_leader_or_core",
    ),
    "cancel another's session": (
        "mia", "POST", "{session}/cancel", {"reason": "mine now"},
        "not_facilitator_leader_or_core",
    ),
    "hold another's session": (
        "ann", "POST", "{session}/hold", {"attendee_ids": ["ann"]},
        "not_facilitator_leader_or_core",
    ),
    "check someone else in": (
        "mia", "POST", "{session}/check-ins", {"member_id": "ann"},
        "not_facilitator_leader_or_core",
    ),
    "open action items on another's session": (
        "mia", "POST", "{session}/action-items", {"title": "x", "owner_id": "mia"},
        "not_facilitator_leader_or_core",
    ),
}  # fmt: skip


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_refused_with_403_naming_the_rule(
    events: EventsApp, guild: Guild, refusal: str
) -> None:
    who, method, url, body, code = REFUSALS[refusal]
    url = url.format(community=f"/communities/{guild.community_id}", session=guild.session)
    forbidden(await as_member(events, who, method, url, body), code)


async def test_closing_someone_elses_action_item_is_refused(
    events: EventsApp, guild: Guild
) -> None:
    item = await events.command(
        "POST", f"{guild.session}/action-items", {"title": "Kata", "owner_id": "ann"}
    )
    forbidden(
        await as_member(events, "mia", "POST", f"{action_item_url(item)}/close", {"outcome": "x"}),
        "not_owner_facilitator_leader_or_core",
    )


async def test_feedback_in_someone_elses_name_is_refused(events: EventsApp, guild: Guild) -> None:
    await events.command("POST", f"{guild.session}/hold", {"attendee_ids": ["ann", "mia"]})
    forbidden(
        await as_member(events, "mia", "PUT", f"{guild.session}/feedback/ann", {"rating": 1}),
        "not_self",
    )


def action_item_url(accepted: dict[str, Any]) -> str:
    return f"/action-items/{str(accepted['subject']).removeprefix('action_item/')}"


async def ok(
    events: EventsApp, member: str, method: str, url: str, json: Any = None
) -> dict[str, Any]:
    return allowed(await as_member(events, member, method, url, json))


async def test_the_leader_and_core_members_change_the_community(
    events: EventsApp, guild: Guild
) -> None:
    url = f"/communities/{guild.community_id}"
    await ok(events, "lea", "PATCH", url, {"name": "Quality guild"})
    await ok(events, "cora", "PATCH", url, {"stage": "coalescing"})
    await ok(events, "cora", "POST", guild.members, {"member_id": "zed", "role": "sponsor"})
    await ok(events, "lea", "PUT", f"{url}/leader", {"leader_id": "cora"})
    community = await events.get(url)
    assert (community["name"], community["stage"], community["leader_id"]) == (
        "Quality guild",
        "coalescing",
        "cora",
    )
    # lea stays a core member after handing over, so she still stewards the community
    await ok(events, "lea", "PATCH", url, {"name": "Testing guild"})


async def test_the_facilitator_runs_their_session(events: EventsApp, guild: Guild) -> None:
    await ok(events, "fay", "POST", f"{guild.session}/reschedule", {"starts_at": iso(8)})
    await ok(events, "fay", "POST", f"{guild.session}/check-ins", {"member_id": "mia"})
    await ok(events, "ann", "POST", f"{guild.session}/check-ins", {"member_id": "ann"})
    item = {"title": "Kata", "owner_id": "ann"}
    opened = await ok(events, "fay", "POST", f"{guild.session}/action-items", item)
    await ok(events, "fay", "POST", f"{guild.session}/hold", {})
    session = await events.get(guild.session)
    assert (session["status"], session["attendee_ids"]) == ("held", ["ann", "mia"])
    await ok(events, "fay", "POST", f"{action_item_url(opened)}/close", {"outcome": "done"})


async def test_the_leader_and_core_members_run_any_session(events: EventsApp, guild: Guild) -> None:
    item = {"title": "Kata", "owner_id": "ann"}
    opened = await ok(events, "cora", "POST", f"{guild.session}/action-items", item)
    await ok(events, "lea", "POST", f"{action_item_url(opened)}/close", {"outcome": "done"})
    await ok(events, "lea", "POST", f"{guild.session}/cancel", {"reason": "ill"})


async def test_the_owner_closes_their_action_item(events: EventsApp, guild: Guild) -> None:
    opened = await events.command(
        "POST", f"{guild.session}/action-items", {"title": "Kata", "owner_id": "ann"}
    )
    await ok(events, "ann", "POST", f"{action_item_url(opened)}/close", {"outcome": "kept it"})


async def test_a_member_schedules_and_runs_a_session_they_facilitate(
    events: EventsApp, guild: Guild
) -> None:
    url = f"/communities/{guild.community_id}/sessions"
    scheduled = await ok(events, "mia", "POST", url, {**SESSION_BODY, "facilitator_id": "mia"})
    session_url = f"/sessions/{str(scheduled['subject']).removeprefix('session/')}"
    await ok(events, "mia", "POST", f"{session_url}/cancel", {"reason": "clash"})


@pytest.mark.parametrize("subject", ["../admin", ""])
async def test_a_signed_token_whose_subject_is_not_a_member_id_is_401_not_500(
    events: EventsApp, subject: str
) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": subject, "iss": ISSUER, "iat": now, "exp": now + 600, "scope": "admin"},
        ServiceSettings().auth_token_secret,
    )
    for method, url in (("POST", "/communities"), ("GET", "/members/ann")):
        response = await events.client.request(
            method, url, json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert problem_of(response, 401)["type"] == "urn:cop:problem:auth:unauthenticated"


async def test_a_token_that_lives_longer_than_the_maximum_is_401(events: EventsApp) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "ann", "iss": ISSUER, "iat": now, "exp": now + 2 * 24 * 3600},
        ServiceSettings().auth_token_secret,
    )
    response = await events.client.get("/members/ann", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "longer" in response.json()["detail"]
