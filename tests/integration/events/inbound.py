"""What a source system does at the inbound gateway: register, show its key, send events."""

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.events.catalog import MemberJoined
from shared.events.envelope import new_event
from shared.events.topics import Topic
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp

PROFILE = "cop.member.profile_updated.v1"
FEEDBACK = "cop.feedback.submitted.v1"
JOINED = "cop.member.joined.v1"
BATCH_JSON = {"content-type": "application/cloudevents-batch+json"}


async def register(
    infra: Infrastructure, events: EventsApp, name: str, types: list[str], limit: int = 6000
) -> str:
    """Register a source system through the events service's admin API; returns its key."""
    response = await events.client.post(
        "/sources", json={"name": name, "types": types, "rate_limit_per_minute": limit}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def structured_event(
    source: str, event_type: str, partitionkey: str, data: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    """A CloudEvent in structured mode, as a source system sends it, with a new id; `changes`
    replace or add attributes."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "partitionkey": partitionkey,
        "data": data,
        **changes,
    }


def profile_event(source: str, member: str | None = None, **data: Any) -> dict[str, Any]:
    member = member or f"m-{uuid.uuid4().hex[:8]}"
    return structured_event(
        source,
        PROFILE,
        member,
        {"member_id": member, "name": "Dir Ectory", "email": f"{member}@example.com", **data},
    )


def feedback_event(source: str, **data: Any) -> dict[str, Any]:
    """A rating of session s1 of community c1 by member m1; `data` replaces or adds fields."""
    return structured_event(
        source,
        FEEDBACK,
        "c1",
        {"session_id": "s1", "community_id": "c1", "member_id": "m1", "rating": 4, **data},
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def topic(events: EventsApp, name: Topic) -> str:
    return events.settings.kafka_topic_prefix + str(name)


def joined(source: str, community: str, member: str, event_id: str | None = None) -> Any:
    """A `MemberJoined` of another system, structured mode, as JSON."""
    event = new_event(
        MemberJoined(community_id=community, member_id=member),
        source=source,
        event_id=event_id or f"j-{uuid.uuid4().hex[:12]}",
    )
    return event.model_dump(mode="json", exclude_none=True)
