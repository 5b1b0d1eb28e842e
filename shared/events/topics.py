"""Kafka topic names, one per event family (docs/architecture.md#topics-keys-and-the-catalog)."""

from enum import StrEnum


class Topic(StrEnum):
    COMMUNITIES = "cop.communities"
    SESSIONS = "cop.sessions"
    KNOWLEDGE = "cop.knowledge"
    RECOGNITION = "cop.recognition"
    NOTIFICATIONS = "cop.notifications"
    CICD = "cop.cicd"
    INBOUND = "cop.inbound"
    INBOUND_REJECTED = "cop.inbound.rejected"


DOMAIN_TOPICS: tuple[Topic, ...] = (
    Topic.COMMUNITIES,
    Topic.SESSIONS,
    Topic.KNOWLEDGE,
    Topic.RECOGNITION,
    Topic.NOTIFICATIONS,
    Topic.CICD,
)

SERVICES: tuple[str, ...] = ("events", "knowledge", "recognition", "notifier", "impact")


def dlq_topic(service: str) -> str:
    """Where a service parks the messages it gave up on."""
    return f"cop.dlq.{service}"


def all_topics() -> list[str]:
    return [
        *(str(t) for t in DOMAIN_TOPICS),
        str(Topic.INBOUND),
        str(Topic.INBOUND_REJECTED),
        *(dlq_topic(s) for s in SERVICES),
    ]
