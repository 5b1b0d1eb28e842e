"""CI/CD facts from other systems: CDEvents (the CD Foundation's specification, cdevents.dev).

A CI/CD system sends a CDEvent to the inbound gateway as a CloudEvent whose `type` is the
CDEvents type (`dev.cdevents.<subject>.<predicate>.<version>`) and whose `data` is the whole
CDEvent (`context`, `subject`, `customData`, ...). These are not the platform's types: they keep
their names, any 0.x version of the families below is accepted, and the models hold only what
the platform reads (the impact metrics) and ignore the rest of a CDEvent. They travel on
`cop.cicd`, keyed by their subject's id unless the sender gave a `partitionkey`.

| family | subject | what is read |
|---|---|---|
| `change.merged` | the change | `subject.content.repository.id` (optional) |
| `artifact.packaged` | the artifact (a purl) | `subject.content.change.id` |
| `service.deployed`, `.upgraded`, `.rolledback` | the service | `content.environment.id`, `content.artifactId` |
| `incident.detected`, `.resolved` | the incident | `content.environment.id`, `content.service.id`, `content.artifactId` (both optional) |

Every CDEvent is read with its `context.id` and `context.timestamp` (when it happened).
"""  # noqa: E501

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from shared.events.spec import EventData, EventSpec
from shared.events.times import Instant
from shared.events.topics import Topic

PREFIX: Final = "dev.cdevents."
_TYPE = re.compile(r"^(dev\.cdevents\.[a-z]+\.[a-z]+)\.0\.(?:0|[1-9]\d{0,3})\.(?:0|[1-9]\d{0,3})$")
MAX_KEY_LENGTH: Final = 128
"""The longest `partitionkey` the envelope takes: a longer subject id is keyed by its hash."""
MAX_AHEAD: Final = timedelta(days=1)
"""How far in the future a CDEvent's time may be (clocks differ; a day more is a wrong clock)."""

ServiceRef = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""A service as CI/CD systems name it (a CDEvents `service` subject's id, e.g. `service/pay`)."""
SubjectId = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""A change, artifact or incident as its system names it (a URL, a purl, a ticket id)."""
EnvironmentId = Annotated[str, Field(min_length=1, max_length=200)]


class _Read(EventData):
    """A part of a CDEvent: the fields the platform reads; any other field is left alone."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Context(_Read):
    id: SubjectId
    timestamp: Instant


class Reference(_Read):
    """Another subject an event points at, e.g. `{"id": "...", "source": "..."}`."""

    id: SubjectId


class ServiceReference(_Read):
    id: ServiceRef


class Environment(_Read):
    id: EnvironmentId


class _CDEvent(_Read):
    context: Context

    @property
    def at(self) -> datetime:
        """When it happened: the CDEvent's own timestamp, in UTC."""
        return self.context.timestamp


# --- change.merged ---


class ChangeContent(_Read):
    repository: Reference | None = None


class ChangeSubject(_Read):
    id: SubjectId
    content: ChangeContent = Field(default_factory=ChangeContent)


class ChangeMerged(_CDEvent):
    subject: ChangeSubject


# --- artifact.packaged ---


class PackagedContent(_Read):
    change: Reference


class ArtifactSubject(_Read):
    id: SubjectId
    content: PackagedContent


class ArtifactPackaged(_CDEvent):
    subject: ArtifactSubject


# --- service.deployed, service.upgraded, service.rolledback ---


class ServiceContent(_Read):
    environment: Environment
    artifact_id: SubjectId = Field(alias="artifactId")


class ServiceSubject(_Read):
    id: ServiceRef
    content: ServiceContent


class ServiceDeployed(_CDEvent):
    subject: ServiceSubject


class ServiceUpgraded(_CDEvent):
    subject: ServiceSubject


class ServiceRolledBack(_CDEvent):
    subject: ServiceSubject


# --- incident.detected, incident.resolved ---


class IncidentContent(_Read):
    environment: Environment
    service: ServiceReference | None = None
    artifact_id: SubjectId | None = Field(None, alias="artifactId")


class IncidentSubject(_Read):
    id: SubjectId
    content: IncidentContent


class IncidentDetected(_CDEvent):
    subject: IncidentSubject


class IncidentResolved(_CDEvent):
    subject: IncidentSubject


CDEvent = (
    ChangeMerged
    | ArtifactPackaged
    | ServiceDeployed
    | ServiceUpgraded
    | ServiceRolledBack
    | IncidentDetected
    | IncidentResolved
)


def partition_key(subject_id: str) -> str:
    """The record key of a subject's events: its id, or the id's hash when it is too long."""
    if len(subject_id) <= MAX_KEY_LENGTH:
        return subject_id
    return "sha256:" + hashlib.sha256(subject_id.encode()).hexdigest()


@dataclass(frozen=True)
class CDEventSpec(EventSpec):
    """A CDEvents family (e.g. `dev.cdevents.service.deployed`), for every 0.x version."""

    keyed_by_sender: bool = True

    def key(self, data: dict[str, Any]) -> str:
        subject = data.get("subject")
        subject_id = subject.get("id") if isinstance(subject, dict) else None
        if not isinstance(subject_id, str) or not subject_id:
            raise ValueError(f"{self.type} data carries no subject id")
        return partition_key(subject_id)

    def subject(self, data: dict[str, Any]) -> str:
        noun = self.type.removeprefix(PREFIX).split(".")[0]
        return f"{noun}/{data['subject']['id']}"


def _family(name: str, model: type[_CDEvent], summary: str) -> CDEventSpec:
    return CDEventSpec(PREFIX + name, model, Topic.CICD, ("subject.id",), "subject.id", summary)


FAMILIES: Final[dict[str, CDEventSpec]] = {
    s.type: s
    for s in (
        _family("change.merged", ChangeMerged, "A change was merged into its repository."),
        _family("artifact.packaged", ArtifactPackaged, "An artifact was built from a change."),
        _family("service.deployed", ServiceDeployed, "A service was deployed to an environment."),
        _family("service.upgraded", ServiceUpgraded, "A running service got a new artifact."),
        _family(
            "service.rolledback",
            ServiceRolledBack,
            "A service went back to an earlier artifact.",
        ),
        _family(
            "incident.detected", IncidentDetected, "An incident was detected in an environment."
        ),
        _family("incident.resolved", IncidentResolved, "An incident was resolved."),
    )
}
_BY_MODEL: Final[dict[type[BaseModel], CDEventSpec]] = {s.model: s for s in FAMILIES.values()}


def family_of(event_type: str) -> str | None:
    """`dev.cdevents.service.deployed.0.2.0` (or the family's own name) -> its family's name,
    when it is one the platform reads; else None."""
    if event_type in FAMILIES:
        return event_type
    match = _TYPE.fullmatch(event_type)
    return match.group(1) if match and match.group(1) in FAMILIES else None


def spec_for(event_type: str) -> CDEventSpec | None:
    """The family of a versioned CDEvents type (`dev.cdevents.service.deployed.0.2.0`)."""
    match = _TYPE.fullmatch(event_type)
    return FAMILIES.get(match.group(1)) if match else None


def spec_for_model(model: type[BaseModel]) -> CDEventSpec | None:
    return _BY_MODEL.get(model)


_NO_SUBJECT = "-"
"""The key of a CDEvent without a subject id while it is judged: the data's check refuses it."""


def as_received(event: dict[str, Any]) -> dict[str, Any]:
    """A CDEvent sent to the gateway with what its CloudEvent may leave out: the `partitionkey`
    (its subject's id) and the `time` (its context's timestamp)."""
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    completed = dict(event)
    if "partitionkey" not in event:
        subject = data.get("subject")
        subject_id = subject.get("id") if isinstance(subject, dict) else None
        if isinstance(subject_id, str) and subject_id:
            completed["partitionkey"] = partition_key(subject_id)
        else:
            completed["partitionkey"] = _NO_SUBJECT
    context = data.get("context")
    if "time" not in event and isinstance(context, dict) and "timestamp" in context:
        completed["time"] = context["timestamp"]
    return completed


def times_ahead(time: datetime, event: CDEvent, now: datetime) -> list[tuple[str, str]]:
    """The times of a CDEvent (the CloudEvent's and the context's) that lie more than
    `MAX_AHEAD` after `now`, as (field, message)."""
    latest = now + MAX_AHEAD
    found = [("time", time), ("data.context.timestamp", event.context.timestamp)]
    return [
        (name, f"{at.isoformat()} is more than a day ahead of the gateway's clock")
        for name, at in found
        if at > latest
    ]
