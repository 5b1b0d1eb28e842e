"""CI/CD facts, and the CDEvents a CI/CD system sends for them: structured-mode CloudEvents
without a partition key, as `POST /ingest` receives them. The benchmarks and the tests send
these; the platform only receives CDEvents (`shared/events/cdevents.py`)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

_FAMILY: Final = {
    "merged": "change.merged",
    "packaged": "artifact.packaged",
    "deployed": "service.deployed",
    "upgraded": "service.upgraded",
    "rolledback": "service.rolledback",
    "detected": "incident.detected",
    "resolved": "incident.resolved",
}
_VERSION: Final = {  # a version of each family, as CI/CD systems of different ages send them
    "change.merged": "0.2.0",
    "artifact.packaged": "0.2.0",
    "service.deployed": "0.2.0",
    "service.upgraded": "0.1.1",
    "service.rolledback": "0.2.0",
    "incident.detected": "0.2.0",
    "incident.resolved": "0.3.0",
}


def at(text: str) -> datetime:
    """'2026-03-02 10:00' in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Fact:
    """One CI/CD fact, plainly: what is sent as a CDEvent, and what the expected figures are
    computed from."""

    kind: str  # merged, packaged, deployed, upgraded, rolledback, detected, resolved
    at: datetime
    subject: str  # the change, artifact, service or incident
    environment: str | None = None
    artifact: str | None = None
    change: str | None = None
    service: str | None = None


def cdevent(fact: Fact, event_id: str, source: str = "ci/github") -> dict[str, Any]:
    """The structured-mode CloudEvent a CI/CD system sends for the fact (no partition key)."""
    family = _FAMILY[fact.kind]
    event_type = f"dev.cdevents.{family}.{_VERSION[family]}"
    time = fact.at.isoformat().replace("+00:00", "Z")
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": time,
        "data": {
            "context": {
                "version": "0.4.1",
                "id": event_id,
                "source": source,
                "type": event_type,
                "timestamp": time,
            },
            "subject": {
                "id": fact.subject,
                "type": family.split(".")[0],
                "content": _content(fact),
            },
            "customData": {"pipeline": "build-and-deploy"},
        },
    }


def _content(fact: Fact) -> dict[str, Any]:
    if fact.kind == "merged":
        return {"repository": {"id": fact.subject.rsplit("/pull/", 1)[0]}}
    if fact.kind == "packaged":
        return {"change": {"id": fact.change, "source": "github.com"}}
    if fact.kind in ("deployed", "upgraded", "rolledback"):
        return {"environment": {"id": fact.environment}, "artifactId": fact.artifact}
    content: dict[str, Any] = {"environment": {"id": fact.environment or "production"}}
    if fact.service:
        content["service"] = {"id": fact.service}
    if fact.artifact:
        content["artifactId"] = fact.artifact
    return content
