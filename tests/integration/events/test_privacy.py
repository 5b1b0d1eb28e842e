"""Personal data (e-mail, chat handle, timezone) only to the member themself and admins;
every other signed-in member sees the public profile (name, team)."""

import pytest

from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.problems import problem_of

pytestmark = pytest.mark.integration

PROFILE = {
    "name": "Ann Lee",
    "email": "ann@example.com",
    "team": "payments",
    "chat_handle": "@ann",
    "timezone": "Europe/Berlin",
}
PUBLIC = {"member_id": "ann", "name": "Ann Lee", "team": "payments"}


@pytest.fixture
async def ann(events: EventsApp) -> None:
    response = await events.client.put(
        "/members/ann/profile", json=PROFILE, params={"wait": "true"}, headers=bearer("ann")
    )
    assert response.status_code == 202, response.text


@pytest.mark.usefixtures("ann")
async def test_a_member_sees_their_own_personal_data(events: EventsApp) -> None:
    response = await events.client.get("/members/ann", headers=bearer("ann"))
    assert response.status_code == 200
    assert response.json() | PROFILE == response.json()
    assert response.json()["member_id"] == "ann"


@pytest.mark.usefixtures("ann")
async def test_an_admin_sees_a_members_personal_data(events: EventsApp) -> None:
    response = await events.client.get("/members/ann", headers=bearer("ops", admin=True))
    assert response.json()["email"] == "ann@example.com"


@pytest.mark.usefixtures("ann")
async def test_other_members_see_only_the_public_profile(events: EventsApp) -> None:
    response = await events.client.get("/members/ann", headers=bearer("bob"))
    assert response.status_code == 200
    assert response.json() == PUBLIC
    assert "ann@example.com" not in response.text


async def test_anonymous_callers_see_nothing_and_unknown_members_are_404(
    events: EventsApp,
) -> None:
    anonymous = await events.client.get("/members/ann", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    unknown = await events.client.get("/members/nobody", headers=bearer("bob"))
    problem_of(unknown, 404)


async def test_the_openapi_document_shows_both_profiles(events: EventsApp) -> None:
    spec = (await events.client.get("/openapi.json")).json()
    answer = spec["paths"]["/members/{member_id}"]["get"]["responses"]["200"]
    shapes = answer["content"]["application/json"]["schema"]["anyOf"]
    names = {shape["$ref"].rsplit("/", 1)[-1] for shape in shapes}
    assert names == {"MemberProfile", "PublicMemberProfile"}
    assert set(spec["components"]["schemas"]["PublicMemberProfile"]["properties"]) == {
        "member_id",
        "name",
        "team",
    }
