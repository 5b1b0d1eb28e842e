"""A session's feedback summary shows no one's rating or words alone: below the minimum number
of feedbacks (3 by default) only the facilitator, the community's leader and admins see more
than the count; from the minimum on, everyone does, with the texts in an order that does not
follow their authors."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, serving, settings_for
from tests.integration.events.conftest import EventsApp

pytestmark = pytest.mark.integration

LEADER, FACILITATOR = "lea", "fay"
ATTENDEES = ["ann", "bob", "cy", "dan"]
FEEDBACK = {
    "ann": {"rating": 1, "plus": "zero takeaways for me", "delta": "ann would rather skip it"},
    "bob": {"rating": 4, "plus": "good examples", "delta": "longer Q&A"},
    "cy": {"rating": 5, "plus": "aha moments", "delta": "bigger room"},
}


async def held_session(events: EventsApp) -> str:
    community_id = await events.new_community(leader=LEADER)
    for member in ATTENDEES:
        join = {"member_id": member, "role": "member"}
        await events.command("POST", f"/communities/{community_id}/members", join)
    starts_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    answer = await events.command(
        "POST",
        f"/communities/{community_id}/sessions",
        {
            "title": "Mutation testing",
            "format": "brown_bag",
            "starts_at": starts_at,
            "facilitator_id": FACILITATOR,
        },
    )
    session_id = str(answer["subject"]).removeprefix("session/")
    await events.command("POST", f"/sessions/{session_id}/hold", {"attendee_ids": ATTENDEES})
    return session_id


async def give(events: EventsApp, session_id: str, *members: str) -> None:
    for member in members:
        await events.command("PUT", f"/sessions/{session_id}/feedback/{member}", FEEDBACK[member])


async def read_as(client: httpx.AsyncClient, session_id: str, viewer: str | None) -> Any:
    """The session as `viewer` reads it: a member, `admin`, or None for no token at all."""
    request = client.build_request("GET", f"/sessions/{session_id}")
    if viewer is None:
        del request.headers["Authorization"]
    else:
        request.headers.update(bearer(viewer, admin=viewer == "admin"))
    response = await client.send(request)
    assert response.status_code == 200, response.text
    return response


WITHHELD: dict[str, Any] = {
    "count": 1,
    "shown": False,
    "average_rating": None,
    "applied_count": None,
    "plus": [],
    "delta": [],
}


@pytest.mark.parametrize(
    "viewer",
    [None, "zed", "bob", "ann"],
    ids=["anonymous", "another member", "an attendee", "the author herself"],
)
async def test_one_feedback_shows_others_only_the_count(
    events: EventsApp, viewer: str | None
) -> None:
    session_id = await held_session(events)
    await give(events, session_id, "ann")
    response = await read_as(events.client, session_id, viewer)
    assert response.json()["feedback"] == WITHHELD
    assert "ann would rather skip it" not in response.text
    assert "zero takeaways" not in response.text


@pytest.mark.parametrize(
    "viewer",
    [FACILITATOR, LEADER, "admin"],
    ids=["the facilitator", "the community's leader", "an admin"],
)
async def test_the_sessions_runners_see_the_summary_of_one_feedback(
    events: EventsApp, viewer: str
) -> None:
    session_id = await held_session(events)
    await give(events, session_id, "ann")
    summary = (await read_as(events.client, session_id, viewer)).json()["feedback"]
    assert summary == {
        "count": 1,
        "shown": True,
        "average_rating": 1.0,
        "applied_count": 0,
        "plus": ["zero takeaways for me"],
        "delta": ["ann would rather skip it"],
    }
    assert "member_id" not in summary


@pytest.mark.parametrize("viewer", [None, "zed"], ids=["anonymous", "another member"])
async def test_from_three_feedbacks_everyone_sees_the_summary_without_names(
    events: EventsApp, viewer: str | None
) -> None:
    session_id = await held_session(events)
    await give(events, session_id, "ann", "bob")
    two = (await read_as(events.client, session_id, viewer)).json()["feedback"]
    assert (two["shown"], two["count"], two["plus"]) == (False, 2, [])
    await give(events, session_id, "cy")
    summary = (await read_as(events.client, session_id, viewer)).json()["feedback"]
    assert summary["shown"] is True
    assert summary["count"] == 3
    assert summary["average_rating"] == round(10 / 3, 2)
    # in alphabetical order, not in the order of their authors (ann, bob, cy)
    assert summary["plus"] == ["aha moments", "good examples", "zero takeaways for me"]
    assert summary["delta"] == ["ann would rather skip it", "bigger room", "longer Q&A"]


async def test_a_token_that_is_not_valid_is_refused_not_read_as_anonymous(
    events: EventsApp,
) -> None:
    session_id = await held_session(events)
    response = await events.client.get(
        f"/sessions/{session_id}", headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401


async def test_the_minimum_is_a_setting(infra: Infrastructure, unique: str) -> None:
    settings = settings_for(EventsSettings, infra, f"evfb{unique}", feedback_summary_min_count=2)
    async with serving(bootstrap(settings), "events") as client:
        events = EventsApp(client, settings)
        session_id = await held_session(events)
        await give(events, session_id, "ann")
        assert (await read_as(client, session_id, None)).json()["feedback"]["shown"] is False
        await give(events, session_id, "bob")
        summary = (await read_as(client, session_id, None)).json()["feedback"]
        assert summary["shown"] is True
        assert summary["average_rating"] == 2.5
    await drop_database(infra, settings.mongodb_database)
