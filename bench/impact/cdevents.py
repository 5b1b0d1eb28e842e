"""The facts as a CI/CD system sends them to `POST /ingest`: CDEvents in structured-mode
CloudEvents, without a partition key, in batches of JSON bytes."""

import json
from collections.abc import Iterator, Sequence

from bench.cicd_facts import Fact, cdevent

CI_SYSTEM = "ci"
"""The system registered with the gateway: its key sends as `ci` or `ci/<anything>`."""
CI_SOURCE, INCIDENT_SOURCE = f"{CI_SYSTEM}/github", f"{CI_SYSTEM}/incident-alerts"


def _source(fact: Fact) -> str:
    return INCIDENT_SOURCE if fact.kind in ("detected", "resolved") else CI_SOURCE


def batches(facts: Sequence[Fact], size: int, run: str) -> Iterator[tuple[int, bytes]]:
    """Each batch's count of events and its body (`application/cloudevents-batch+json`), made
    when it is about to be sent, so that the whole year is never held as JSON at once."""
    for start in range(0, len(facts), size):
        chunk = facts[start : start + size]
        events = [cdevent(f, f"{run}-{start + i}", _source(f)) for i, f in enumerate(chunk)]
        yield len(events), json.dumps(events).encode()
