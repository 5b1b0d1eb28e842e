"""Sessions, attendance, feedback and action items on the real broker and MongoDB protocol."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.events.catalog import SessionCancelled, SessionScheduled
from shared.events.envelope import new_event
from tests.integration.events.conftest import EventsApp
from tests.integration.kafka_io import produce_event
from tests.integration.polling import eventually

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


async def test_scheduled_session_gets_the_seed_agenda_by_default(events: EventsApp) -> None:
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
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == code
    assert problem["type"] == f"urn:cop:problem:events:{code}"


async def test_check_ins_before_held_count_as_attendance(events: EventsApp) -> None:
    community_id = await events.new_community()
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
    assert [i["title"] for i in open_items] == ["Try mob testing for two sprints", "Share the kata"]
    assert all(0 <= i["age_days"] < 1 for i in open_items)
    item_id = str(first["subject"]).removeprefix("action_item/")
    await events.command(
        "POST", f"/action-items/{item_id}/close", {"outcome": "kept it: fewer escaped bugs"}
    )
    again = await events.client.post(f"/action-items/{item_id}/close", json={"outcome": "x"})
    assert again.status_code == 409
    assert again.json()["code"] == "action_item_closed"
    open_items = await events.get(f"/communities/{community_id}/action-items")
    assert [i["title"] for i in open_items] == ["Share the kata"]


async def test_upcoming_and_past_sessions_are_paged_and_filtered(events: EventsApp) -> None:
    community_id = await events.new_community()
    soon = await schedule(events, community_id, days=2, format="journal_club")
    later = await schedule(events, community_id, days=9)
    latest = await schedule(events, community_id, days=20)
    held = await schedule(events, community_id, days=1)
    await events.command("POST", f"/sessions/{held}/hold", {"attendee_ids": ["ann"]})
    gone = await schedule(events, community_id, days=3)
    await events.command("POST", f"/sessions/{gone}/cancel", {"reason": "holiday"})

    url = f"/communities/{community_id}/sessions"
    upcoming = await events.get(url, when="upcoming", size=2)
    assert upcoming["total"] == 3
    assert [s["session_id"] for s in upcoming["items"]] == [soon, later]
    page_two = await events.get(url, when="upcoming", size=2, page=2)
    assert [s["session_id"] for s in page_two["items"]] == [latest]
    past = await events.get(url, when="past")
    assert {s["session_id"] for s in past["items"]} == {held, gone}
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
