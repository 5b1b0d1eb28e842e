"""The event contract between services: CloudEvents envelope, v1 catalog, topics and codec."""

from shared.events.bindings import decode_record, envelope_from_kafka, events_from_http
from shared.events.catalog import CATALOG, EventSpec, spec_for
from shared.events.codec import DecodedEvent, InvalidEvent, decode, encode
from shared.events.envelope import CloudEvent, new_event
from shared.events.topics import Topic

__all__ = [
    "CATALOG",
    "CloudEvent",
    "DecodedEvent",
    "EventSpec",
    "InvalidEvent",
    "Topic",
    "decode",
    "decode_record",
    "encode",
    "envelope_from_kafka",
    "events_from_http",
    "new_event",
    "spec_for",
]
