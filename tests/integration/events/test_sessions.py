"""Sessions, attendance, feedback and action items on the real broker and MongoDB protocol."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.events.catalog import SessionCancelled, SessionScheduled
from shared.events.envelope import new_event
from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.integration.kafka_io import produce_event
from tests.integration.polling import eventually
from tests.problems import problem_of

pytestmark = pytest.mark.integration


def iso(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def schedule(events: EventsApp, community_id: str, days: float = 7, **extra: Any) -> str:
    body = {
        "title": "Property-based testing",
        "format": "brown_bag",
        "starts_at": iso(days),
        "facilitator_id": "lea",
        "speaker_ids": ["ann"],
        "location": "https://meet.example.com/pbt",
        "tags": ["testing"],
        **extra,
    }
    answer = await events.command("POST", f"/communities/{community_id}/sessions", body)
    return str(answer["subject"]).removeprefix("session/")


async def test_scheduled_session_gets_the_default_agenda(events: EventsApp) -> None:
    community_id = await events.new_community()
    session_id = await schedule(events, community_id)
    session = await events.get(f"/sessions/{session_id}")
    assert session["status"] == "scheduled"
    assert session["agenda"] == ["Check-in", "Deep dive", "Open discussion", "Action items"]
    assert session["format"] == "brown_bag"
    assert session["speaker_ids"] == ["ann"]


async def test_reschedule_then_cancel_with_a_reason(events: EventsApp) -> None:
    community_id = await events.new_community()
    session_id = await schedule(events, community_id)
    new_start = iso(14)
    await events.command("POST", f"/sessions/{session_id}/reschedule", {"starts_at": new_start})
    session = await events.get(f"/sessions/{session_id}")
    assert datetime.fromisoformat(session["starts_at"]) == datetime.fromisoformat(new_start)
    await events.command("POST", f"/sessions/{session_id}/cancel", {"reason": "speaker is ill"})
    session = await events.get(f"/sessions/{session_id}")
    assert session["status"] == "cancelled"
    assert session["cancel_reason"] == "speaker is ill"


@pytest.mark.parametrize(
    ("first", "then", "code"),
    [
        ("cancel", "hold", "session_cancelled"),
        ("cancel", "reschedule", "session_cancelled"),
        ("cancel", "cancel", "session_cancelled"),
        ("hold", "reschedule", "session_held"),
        ("hold", "cancel", "session_held"),
        ("hold", "hold", "session_held"),
        ("cancel", "check-ins", "session_cancelled"),
    ],
)
async def test_invalid_transitions_are_refused_with_409_problem(
    events: EventsApp, first: str, then: str, code: str
) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "cancel": {"reason": "room flooded"},
        "hold": {"attendee_ids": ["ann"]},
        "reschedule": {"starts_at": iso(3)},
        "check-ins": {"member_id": "ann"},
    }
    community_id = await events.new_community()
    session_id = await schedule(events, community_id)
    await events.command("POST", f"/sessions/{session_id}/{first}", bodies[first])
    refused = await events.client.post(f"/sessions/{session_id}/{then}", json=bodies[then])
    problem = problem_of(refused, 409)
    assert problem["code"] == code
    assert problem["type"] == f"urn:cop:problem:events:{code}"


async def test_check_ins_before_held_count_as_attendance(events: EventsApp) -> None:
    community_id = await events.new_community()
    await events.join(community_id, "bob", "cy")
    session_id = await schedule(events, community_id)
    for member in ("ann", "bob"):
        await events.command("POST", f"/sessions/{session_id}/check-ins", {"member_id": member})
    await events.command(
        "POST",
        f"/sessions/{session_id}/hold",
        {
            "attendee_ids": ["bob", "cy"],
            "facilitator_id": "max",
            "recording_url": "https://video.example.com/pbt",
        },
    )
    session = await events.get(f"/sessions/{session_id}")
    assert session["status"] == "held"
    assert session["attendee_ids"] == ["ann", "bob", "cy"]
    assert session["facilitator_id"] == "max"
    assert session["recording_url"] == "https://video.example.com/pbt"
    assert session["attendance"] == {"checked_in": 2, "attended": 3}


async def test_feedback_only_from_attendees_and_a_second_replaces_the_first(
    events: EventsApp,
) -> None:
    community_id = await events.new_community()
    session_id = await schedule(events, community_id)
    url = f"/sessions/{session_id}/feedback"
    await events.join(community_id, "bob")
    early = await events.client.put(f"{url}/ann", json={"rating": 5})
    assert early.json()["code"] == "session_not_held"
    await events.command("POST", f"/sessions/{session_id}/hold", {"attendee_ids": ["ann", "bob"]})
    outsider = await events.client.put(f"{url}/zed", json={"rating": 1})
    assert outsider.status_code == 409
    assert outsider.json()["code"] == "not_an_attendee"
    bad = await events.client.put(f"{url}/ann", json={"rating": 6})
    assert bad.status_code == 422

    await events.command("PUT", f"{url}/ann", {"rating": 2, "plus": "demo", "delta": "too long"})
    await events.command(
        "PUT", f"{url}/ann", {"rating": 4, "plus": "live demo", "delta": "", "applied": True}
    )
    await events.command("PUT", f"{url}/bob", {"rating": 5, "delta": "more time for Q&A"})
    assert (await events.get(f"{url}/ann"))["rating"] == 4
    own = await events.client.get(f"{url}/ann", headers=bearer("ann"))
    assert own.json()["rating"] == 4
    others = await events.client.get(f"{url}/ann", headers=bearer("bob"))
    assert others.status_code == 403  # one member's feedback is theirs; the summary has no names
    anonymous = await events.client.get(f"{url}/ann", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    summary = (await events.get(f"/sessions/{session_id}"))["feedback"]
    assert summary["count"] == 2
    assert summary["average_rating"] == 4.5
    assert summary["applied_count"] == 1
    assert sorted(summary["plus"]) == ["live demo"]
    assert summary["delta"] == ["more time for Q&A"]


async def test_action_items_open_from_a_session_and_close_with_an_outcome(
    events: EventsApp,
) -> None:
    community_id = await events.new_community()
    session_id = await schedule(events, community_id)
    first = await events.command(
        "POST",
        f"/sessions/{session_id}/action-items",
        {"title": "Try mob testing for two sprints", "owner_id": "ann", "due": iso(28)},
    )
    await events.command(
        "POST",
        f"/sessions/{session_id}/action-items",
        {"title": "Share the kata", "owner_id": "bob"},
    )
    open_items = await events.get(f"/communities/{community_id}/action-items")
    assert open_items["total"] == 2
    titles = [i["title"] for i in open_items["items"]]
    assert titles == ["Try mob testing for two sprints", "Share the kata"]
    assert all(0 <= i["age_days"] < 1 for i in open_items["items"])
    item_id = str(first["subject"]).removeprefix("action_item/")
    await events.command(
        "POST", f"/action-items/{item_id}/close", {"outcome": "kept it: fewer escaped bugs"}
    )
    again = await events.client.post(f"/action-items/{item_id}/close", json={"outcome": "x"})
    assert again.status_code == 409
    assert again.json()["code"] == "action_item_closed"
    open_items = await events.get(f"/communities/{community_id}/action-items")
    assert (open_items["total"], [i["title"] for i in open_items["items"]]) == (
        1,
        ["Share the kata"],
    )
    paged = await events.get(f"/communities/{community_id}/action-items", size=1, page=2)
    assert (paged["total"], paged["items"], paged["page"]) == (1, [], 2)


async def test_upcoming_and_past_sessions_are_paged_and_filtered(events: EventsApp) -> None:
    community_id = await events.new_community()
    soon = await schedule(events, community_id, days=2, format="journal_club")
    later = await schedule(events, community_id, days=9)
    latest = await schedule(events, community_id, days=20)
    held = await schedule(events, community_id, days=1)
    await events.command("POST", f"/sessions/{held}/hold", {"attendee_ids": ["ann"]})
    gone = await schedule(events, community_id, days=3)
    await events.command("POST", f"/sessions/{gone}/cancel", {"reason": "holiday"})
    missed = await schedule(events, community_id, days=-3)
    await events.command("POST", f"/sessions/{missed}/cancel", {"reason": "nobody came"})

    url = f"/communities/{community_id}/sessions"
    upcoming = await events.get(url, when="upcoming", size=2)
    assert upcoming["total"] == 3
    assert [s["session_id"] for s in upcoming["items"]] == [soon, later]
    page_two = await events.get(url, when="upcoming", size=2, page=2)
    assert [s["session_id"] for s in page_two["items"]] == [latest]
    past = await events.get(url, when="past")  # a cancelled session is past once its time is
    assert [s["session_id"] for s in past["items"]] == [held, missed]
    clubs = await events.get(url, format="journal_club")
    assert [s["session_id"] for s in clubs["items"]] == [soon]
    window = await events.get(url, **{"from": iso(5), "to": iso(10)})
    assert [s["session_id"] for s in window["items"]] == [later]
    naive = await events.client.get(url, params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_facilitator_rotation_lists_who_facilitated_the_last_sessions(
    events: EventsApp,
) -> None:
    community_id = await events.new_community()
    await events.join(community_id, "x")
    for days, facilitator in ((-30, "ann"), (-20, "bob"), (-10, "ann"), (-5, "cy")):
        session_id = await schedule(events, community_id, days=days, facilitator_id=facilitator)
        await events.command("POST", f"/sessions/{session_id}/hold", {"attendee_ids": ["x"]})
    rotation = await events.get(f"/communities/{community_id}/facilitators", last=3)
    assert [s["facilitator_id"] for s in rotation["sessions"]] == ["cy", "ann", "bob"]
    assert rotation["facilitators"] == [
        {"facilitator_id": "ann", "sessions": 1},
        {"facilitator_id": "bob", "sessions": 1},
        {"facilitator_id": "cy", "sessions": 1},
    ]
    everyone = await events.get(f"/communities/{community_id}/facilitators", last=10)
    assert everyone["facilitators"][0] == {"facilitator_id": "ann", "sessions": 2}


async def test_a_cancellation_arriving_before_its_scheduling_keeps_both_facts(
    events: EventsApp,
) -> None:
    community_id = await events.new_community()
    session_id = f"s-{community_id}"
    cancelled = new_event(
        SessionCancelled(session_id=session_id, community_id=community_id, reason="no room"),
        source="calendar",
    )
    scheduled = new_event(
        SessionScheduled(
            session_id=session_id, community_id=community_id, title="Late invite",
            format="workshop", starts_at=iso(3), duration_minutes=90, facilitator_id="lea",
        ),
        source="calendar",
    )  # fmt: skip
    bootstrap = events.settings.kafka_bootstrap_servers
    for event in (cancelled, scheduled):
        await produce_event(bootstrap, events.settings.kafka_topic_prefix, event)

    async def both_applied() -> dict[str, Any] | None:
        response = await events.client.get(f"/sessions/{session_id}")
        doc = response.json() if response.status_code == 200 else {}
        return doc if doc.get("title") and doc.get("status") == "cancelled" else None

    session = await eventually(both_applied, what="the schedule details and the cancellation")
    assert session["cancel_reason"] == "no room"
    assert session["format"] == "workshop"


@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
async def test_a_window_beyond_the_ends_of_the_calendar_is_a_422_naming_the_field(
    events: EventsApp, param: str, value: str
) -> None:
    response = await events.client.get("/communities/c1/sessions", params={param: value})
    assert [e["field"] for e in problem_of(response, 422)["errors"]] == [f"query.{param}"]


async def test_times_beyond_the_ends_of_the_calendar_in_bodies_are_a_422_naming_the_field(
    events: EventsApp,
) -> None:
    community_id = await events.new_community()
    body = {"title": "x", "format": "other", "facilitator_id": "lea"}
    edge = "0001-01-01T00:00:00+14:00"
    url = f"/communities/{community_id}/sessions"
    late = await events.client.post(url, json={**body, "starts_at": edge})
    assert late.status_code == 422
    assert [e["field"] for e in late.json()["errors"]] == ["starts_at"]
    session_id = await schedule(events, community_id)
    due = await events.client.post(
        f"/sessions/{session_id}/action-items",
        json={"title": "x", "owner_id": "ann", "due": "9999-12-31T23:59:59-12:00"},
    )
    assert due.status_code == 422
    assert [e["field"] for e in due.json()["errors"]] == ["due"]


# A reminder a day before, the month or week before: a consumer's arithmetic must stay inside
# the calendar, so its first and last years are refused at the door.
FIRST_AND_LAST_YEARS = ["0001-01-01T00:00:00Z", "0001-12-31T23:59:59.999999Z", "9999-01-01T00:00Z"]


@pytest.mark.parametrize("edge", FIRST_AND_LAST_YEARS)
async def test_a_time_in_the_calendars_first_or_last_year_is_a_422_naming_the_field(
    events: EventsApp, edge: str
) -> None:
    community_id = await events.new_community()
    body = {"title": "x", "format": "other", "facilitator_id": "lea", "starts_at": edge}
    scheduled = await events.client.post(f"/communities/{community_id}/sessions", json=body)
    problem = problem_of(scheduled, 422)
    assert [e["field"] for e in problem["errors"]] == ["starts_at"]
    assert "0002-01-01T00:00:00Z and 9998-12-31T23:59:59Z" in problem["errors"][0]["message"]
    session_id = await schedule(events, community_id)
    refused = {
        "starts_at": await events.client.post(
            f"/sessions/{session_id}/reschedule", json={"starts_at": edge}
        ),
        "held_at": await events.client.post(f"/sessions/{session_id}/hold", json={"held_at": edge}),
        "due": await events.client.post(
            f"/sessions/{session_id}/action-items",
            json={"title": "x", "owner_id": "ann", "due": edge},
        ),
        "query.from": await events.client.get(
            f"/communities/{community_id}/sessions", params={"from": edge}
        ),
    }
    for field, response in refused.items():
        assert response.status_code == 422, (field, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("edge", ["0002-01-01T00:00:00Z", "9998-12-31T23:59:59.999Z"])
async def test_a_session_at_either_end_of_the_accepted_range_is_scheduled(
    events: EventsApp, edge: str
) -> None:
    community_id = await events.new_community()
    session_id = await schedule(events, community_id, starts_at=edge)
    session = await events.get(f"/sessions/{session_id}")
    assert datetime.fromisoformat(session["starts_at"]) == datetime.fromisoformat(edge)


async def test_a_body_may_not_carry_what_the_path_supplies(events: EventsApp) -> None:
    community_id = await events.new_community()
    response = await events.client.post(
        f"/communities/{community_id}/sessions",
        json={"title": "x", "format": "other", "facilitator_id": "lea", "starts_at": iso(2),
              "community_id": "elsewhere"},
    )  # fmt: skip
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["community_id"]


async def test_ids_left_to_the_service_are_made_and_ids_given_are_kept(events: EventsApp) -> None:
    community_id = await events.new_community()
    made = await schedule(events, community_id)
    assert made.startswith("s-")
    given = await schedule(events, community_id, session_id="s-given")
    assert given == "s-given"
    item = await events.command(
        "POST", f"/sessions/{given}/action-items",
        {"action_item_id": "ai-given", "title": "x", "owner_id": "ann"},
    )  # fmt: skip
    assert item["subject"] == "action_item/ai-given"
    again = await events.client.post(
        f"/sessions/{given}/action-items",
        json={"action_item_id": "ai-given", "title": "x", "owner_id": "ann"},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "action_item_exists"
