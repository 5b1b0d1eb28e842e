"""The CloudEvents 1.0 envelope in structured JSON mode."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.events.times import to_utc

CONTENT_TYPE = "application/cloudevents+json"


def _as_utc(value: datetime) -> datetime:
    return to_utc(value, "time")


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """One event on the bus. `data` is validated separately against the catalog model of `type`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, Field(min_length=1, max_length=128)]
    source: Annotated[str, Field(min_length=1, max_length=256)]
    type: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z0-9_.]+$")]
    subject: Annotated[str | None, Field(max_length=256)] = None
    time: UtcDatetime = Field(default_factory=utc_now)
    datacontenttype: Literal["application/json"] = "application/json"
    partitionkey: Annotated[str, Field(min_length=1, max_length=128)]
    data: dict[str, Any]


def new_event(
    data: BaseModel,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap a catalog data model in an envelope, with the type, key and subject the catalog sets."""
    from shared.events.catalog import spec_for_model

    spec = spec_for_model(type(data))
    payload = data.model_dump(mode="json")
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=spec.type,
        subject=spec.subject(payload),
        time=time or utc_now(),
        partitionkey=spec.key(payload),
        data=payload,
    )
