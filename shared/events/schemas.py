"""JSON Schemas and an AsyncAPI 3.0 document, generated from the catalog's pydantic models."""

from typing import Any

from pydantic import TypeAdapter

from shared.events.catalog import CATALOG, EventSpec
from shared.events.envelope import CONTENT_TYPE, CloudEvent
from shared.events.topics import Topic, all_topics, dlq_topic

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _message_name(spec: EventSpec) -> str:
    return spec.type.removeprefix("cop.").replace(".", "_")


def event_schema(spec: EventSpec) -> dict[str, Any]:
    """The schema of a whole CloudEvent of one type: the envelope with its `data` model inlined."""
    envelope = CloudEvent.model_json_schema()
    data = spec.model.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**envelope.pop("$defs", {}), **data.pop("$defs", {})}
    envelope["properties"]["type"] = {"const": spec.type, "title": "Type"}
    envelope["properties"]["data"] = data
    envelope["required"] = sorted({*envelope.get("required", []), "type"})
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:cop:event:{spec.type}",
        **envelope,
        "title": spec.type,
        "description": spec.summary,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, one per event type plus the bare envelope."""
    schemas = {f"{t}.schema.json": event_schema(s) for t, s in sorted(CATALOG.items())}
    envelope = TypeAdapter(CloudEvent).json_schema()
    schemas["cloudevent.schema.json"] = {"$schema": SCHEMA_DIALECT, **envelope}
    return schemas


def asyncapi_document() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    by_topic: dict[str, list[str]] = {}
    for spec in sorted(CATALOG.values(), key=lambda s: s.type):
        name = _message_name(spec)
        messages[name] = {
            "name": spec.type,
            "title": spec.type,
            "summary": spec.summary,
            "contentType": CONTENT_TYPE,
            "headers": {
                "type": "object",
                "properties": {
                    "ce_type": {"type": "string", "const": spec.type},
                    "traceparent": {"type": "string"},
                },
            },
            "payload": event_schema(spec),
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "description": f"partition key: the event's {' or '.join(spec.key_fields)}",
                    }
                }
            },
        }
        by_topic.setdefault(str(spec.topic), []).append(name)
    for topic in all_topics():
        refs = by_topic.get(topic, [])
        channels[topic.replace(".", "_")] = {
            "address": topic,
            "description": _channel_description(topic),
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in refs},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CoP Platform events",
            "version": "1.0.0",
            "description": "Domain events of the CoP Platform, CloudEvents 1.0 in structured JSON "
            "mode on Kafka. Generated from the pydantic models; do not edit by hand.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "copctl dev up"}
        },
        "channels": channels,
        "components": {"messages": messages},
    }


def _channel_description(topic: str) -> str:
    if topic == Topic.INBOUND:
        return "Raw CloudEvents from other internal systems, validated by the inbound gateway."
    if topic == Topic.INBOUND_REJECTED:
        return "Inbound events the gateway rejected, with the reason in the record."
    if topic == Topic.CICD:
        return (
            "CI/CD facts: CDEvents from CI/CD systems as the gateway accepted them "
            "(change.merged, artifact.packaged, service.deployed/upgraded/rolledback, "
            "incident.detected/resolved; any 0.x version), and who owns each service."
        )
    if topic.startswith(dlq_topic("")):
        return "Messages a service gave up on, with the error and the original headers."
    return f"Domain events of the {topic.removeprefix('cop.')} family; retained for ever."
