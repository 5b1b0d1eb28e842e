"""Building a catalog event from a JSON file or `key=value` flags, for `copctl emit`."""

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.events.catalog import spec_for
from shared.events.codec import InvalidEvent, decode, field_errors
from shared.events.envelope import CloudEvent, new_event


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """`a=1 b=x tags=["x","y"] c.d=2` -> {"a": 1, "b": "x", "tags": [...], "c": {"d": 2}}."""
    data: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidEvent(f"--set expects key=value, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        target = data
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return data


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
    loaded: dict[str, Any] = json.loads(file.read_text()) if file else {}
    if "specversion" in loaded:
        loaded = {**loaded, "data": {**loaded.get("data", {}), **parse_assignments(assignments)}}
        decoded = decode(loaded)
        if decoded is None or decoded.type != event_type:
            raise InvalidEvent(f"the file's event type is not {event_type}")
        return decoded.envelope
    data = {**loaded, **parse_assignments(assignments)}
    try:
        model = spec.model.model_validate(data)
    except ValidationError as e:
        raise InvalidEvent(f"invalid data for {event_type}", field_errors(e, "data")) from e
    return new_event(model, source=source, event_id=event_id)
