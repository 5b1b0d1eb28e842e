"""The facts as a CI/CD system sends them to `POST /ingest`: CDEvents in structured-mode
CloudEvents, without a partition key, in batches of JSON bytes."""

import json
from collections.abc import Iterator, Sequence
from typing import Any

from bench.impact.history import CicdFact

FAMILY = {
    "merged": "change.merged",
    "packaged": "artifact.packaged",
    "deployed": "service.deployed",
    "upgraded": "service.upgraded",
    "rolledback": "service.rolledback",
    "detected": "incident.detected",
    "resolved": "incident.resolved",
}
VERSION = {"change.merged": "0.2.0", "incident.resolved": "0.3.0"}  # the others: 0.2.0
CI_SYSTEM = "ci"
"""The system registered with the gateway: its key sends as `ci` or `ci/<anything>`."""
CI_SOURCE, INCIDENT_SOURCE = f"{CI_SYSTEM}/github", f"{CI_SYSTEM}/incident-alerts"


def _content(fact: CicdFact) -> dict[str, Any]:
    if fact.kind == "merged":
        return {"repository": {"id": fact.subject.rsplit("/pull/", 1)[0]}}
    if fact.kind == "packaged":
        return {"change": {"id": fact.change, "source": "github.com"}}
    if fact.kind in ("deployed", "upgraded", "rolledback"):
        return {"environment": {"id": fact.environment}, "artifactId": fact.artifact}
    content: dict[str, Any] = {"environment": {"id": fact.environment}}
    if fact.service is not None:
        content["service"] = {"id": fact.service}
    if fact.artifact is not None:
        content["artifactId"] = fact.artifact
    return content


def cloud_event(fact: CicdFact, event_id: str) -> dict[str, Any]:
    family = FAMILY[fact.kind]
    event_type = f"dev.cdevents.{family}.{VERSION.get(family, '0.2.0')}"
    source = INCIDENT_SOURCE if fact.kind in ("detected", "resolved") else CI_SOURCE
    time = f"{fact.at:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"
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
        },
    }


def batches(facts: Sequence[CicdFact], size: int, run: str) -> Iterator[tuple[int, bytes]]:
    """Each batch's count of events and its body (`application/cloudevents-batch+json`), made
    when it is about to be sent, so that the whole year is never held as JSON at once."""
    for start in range(0, len(facts), size):
        chunk = facts[start : start + size]
        events = [cloud_event(f, f"{run}-{start + i}") for i, f in enumerate(chunk)]
        yield len(events), json.dumps(events).encode()
