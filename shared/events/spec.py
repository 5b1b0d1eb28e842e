"""What an event type is made of: the base of its data model, and its spec (how it travels).

The catalog's own types (`catalog.py`) and the CDEvents families other systems send
(`cdevents.py`) are both built on these.
"""

import builtins
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.events.topics import Topic


class EventData(BaseModel):
    """Base of every event's data: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class EventSpec:
    """How one event type travels: its data model, its topic and the field that keys it."""

    type: str
    model: builtins.type[EventData]  # `type` is the field above inside this class body
    topic: Topic
    key_fields: tuple[str, ...]
    subject_field: str
    summary: str
    keyed_by_sender: bool = False
    """Other standards' events (CDEvents): a `partitionkey` the sender gives is kept as it is;
    without one, `key` derives it. The catalog's own must carry the key `key` derives."""

    def key(self, data: dict[str, Any]) -> str:
        """The Kafka record key: the first of `key_fields` that the data carries."""
        for name in self.key_fields:
            if data.get(name) is not None:
                return str(data[name])
        raise ValueError(f"{self.type} data carries none of {self.key_fields}")

    def subject(self, data: dict[str, Any]) -> str:
        prefix = self.subject_field.removesuffix("_id")
        return f"{prefix}/{data[self.subject_field]}"
