"""Building a catalog event from a JSON file or `key=value` flags, and publishing it, for
`copctl emit`."""

import json
from pathlib import Path
from typing import Any

from faststream.security import BaseSecurity
from pydantic import ValidationError

from shared.events.catalog import spec_for
from shared.events.codec import InvalidEvent, decode, field_errors
from shared.events.envelope import CloudEvent, new_event
from shared.kafka import EventBus, make_broker


def _set_path(target: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise InvalidEvent(f"--set {key}: {part!r} already holds a non-object value")
        target = child
    target[leaf] = value


def parse_assignments(assignments: list[str], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """`a=1 b=x tags=["x","y"] c.d=2` -> {"a": 1, "b": "x", "tags": [...], "c": {"d": 2}}.

    With `into`, the flags are merged into (a copy of) that data, nested keys included.
    """
    data: dict[str, Any] = json.loads(json.dumps(into)) if into else {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidEvent(f"--set expects key=value, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        _set_path(data, key, value)
    return data


def _load_object(file: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(file.read_text())
    except ValueError as e:
        raise InvalidEvent(f"{file} is not valid JSON: {e}") from e
    if not isinstance(loaded, dict):
        raise InvalidEvent(f"{file} must hold a JSON object (data or a whole CloudEvent)")
    return loaded


def build_event(
    event_type: str,
    *,
    file: Path | None,
    assignments: list[str],
    source: str,
    event_id: str | None,
) -> CloudEvent:
    """A validated event. The file holds either a whole CloudEvent or just its `data`."""
    spec = spec_for(event_type)
    if spec is None:
        raise InvalidEvent(f"unknown event type {event_type!r}; see `copctl types`")
    loaded = _load_object(file) if file else {}
    if "specversion" in loaded:
        data = loaded.get("data")
        loaded = {**loaded, "data": parse_assignments(assignments, into=data or {})}
        decoded = decode(loaded)
        if decoded is None or decoded.type != event_type:
            raise InvalidEvent(f"the file's event type is not {event_type}")
        return decoded.envelope
    data = parse_assignments(assignments, into=loaded)
    try:
        model = spec.model.model_validate(data)
    except ValidationError as e:
        raise InvalidEvent(f"invalid data for {event_type}", field_errors(e, "data")) from e
    return new_event(model, source=source, event_id=event_id)


async def publish(
    event: CloudEvent,
    bootstrap_servers: str,
    *,
    topic_prefix: str = "",
    security: BaseSecurity | None = None,
) -> None:
    """Publish the event to its catalog topic with the services' producer settings (all
    replicas, idempotent) and the brokers' TLS and SASL."""
    broker = make_broker(bootstrap_servers, client_id="copctl", security=security)
    async with broker:
        await broker.connect()
        await EventBus(broker, topic_prefix=topic_prefix).publish(event)
