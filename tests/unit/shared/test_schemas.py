"""Generated JSON Schemas and AsyncAPI document: complete, consistent with the catalog."""

import functools
import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from shared.events.catalog import CATALOG, EventSpec, KudosGiven
from shared.events.envelope import CONTENT_TYPE, new_event
from shared.events.schemas import SCHEMA_DIALECT
from shared.events.schemas import asyncapi_document as _asyncapi_document
from shared.events.schemas import json_schemas as _json_schemas
from shared.events.topics import all_topics

SPECS = sorted(CATALOG.values(), key=lambda s: s.type)
ENVELOPE_REQUIRED = {"id", "source", "type", "partitionkey", "data"}


@functools.cache
def json_schemas() -> dict[str, dict[str, Any]]:
    """Generated once per run; the tests only read it."""
    return _json_schemas()


@functools.cache
def asyncapi_document() -> dict[str, Any]:
    return _asyncapi_document()


def _id(spec: EventSpec) -> str:
    return spec.type


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _required_fields(spec: EventSpec) -> set[str]:
    return {name for name, field in spec.model.model_fields.items() if field.is_required()}


# --- JSON Schemas ---


def test_json_schemas_has_one_schema_per_catalog_type_plus_the_envelope() -> None:
    schemas = json_schemas()

    expected = {f"{t}.schema.json" for t in CATALOG} | {"cloudevent.schema.json"}
    assert set(schemas) == expected


def test_envelope_schema_requires_the_cloudevent_attributes() -> None:
    envelope = json_schemas()["cloudevent.schema.json"]

    assert envelope["$schema"] == SCHEMA_DIALECT
    assert set(envelope["required"]) == ENVELOPE_REQUIRED
    assert envelope["properties"]["specversion"]["const"] == "1.0"


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_event_schema_pins_type_and_declares_its_identity(spec: EventSpec) -> None:
    schema = json_schemas()[f"{spec.type}.schema.json"]

    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["$id"] == f"urn:cop:event:{spec.type}"
    assert schema["title"] == spec.type
    assert schema["description"] == spec.summary
    assert schema["properties"]["type"]["const"] == spec.type
    assert set(schema["required"]) >= ENVELOPE_REQUIRED


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_event_schema_data_lists_the_model_required_fields(spec: EventSpec) -> None:
    data = json_schemas()[f"{spec.type}.schema.json"]["properties"]["data"]

    assert set(data.get("required", [])) == _required_fields(spec)
    assert set(data["properties"]) == set(spec.model.model_fields)


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_event_schema_data_forbids_additional_properties(spec: EventSpec) -> None:
    data = json_schemas()[f"{spec.type}.schema.json"]["properties"]["data"]

    assert data["additionalProperties"] is False


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_every_ref_in_an_event_schema_resolves_inside_it(spec: EventSpec) -> None:
    schema = json_schemas()[f"{spec.type}.schema.json"]

    for ref in _refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert isinstance(_resolve(schema, ref), dict), ref


def test_feedback_schema_bounds_the_rating_from_1_to_5() -> None:
    data = json_schemas()["cop.feedback.submitted.v1.schema.json"]["properties"]["data"]

    rating = data["properties"]["rating"]
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", 1, 5)


def test_example_event_satisfies_its_generated_schema() -> None:
    schema = json_schemas()["cop.kudos.given.v1.schema.json"]
    event = new_event(
        KudosGiven(
            kudos_id="k1",
            from_id="m1",
            to_ids=["m2"],
            community_id="c1",
            message="Thanks!",
            value_tag="mentoring",
        ),
        source="tests/unit",
    ).model_dump(mode="json", exclude_none=True)

    # Structure, always: the event has what the schema requires and nothing it forbids.
    assert set(schema["required"]) <= set(event)
    assert event["type"] == schema["properties"]["type"]["const"]
    data_schema = schema["properties"]["data"]
    assert set(data_schema["required"]) <= set(event["data"])
    assert set(event["data"]) <= set(data_schema["properties"])

    # Full validation when a validator happens to be installed (it is not a dependency).
    if importlib.util.find_spec("jsonschema") is not None:
        import jsonschema

        jsonschema.Draft202012Validator(schema).validate(event)
        bad = {**event, "data": {**event["data"], "to_ids": []}}
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad)


# --- AsyncAPI ---


def test_asyncapi_document_is_version_3_with_cloudevents_content_type() -> None:
    document = asyncapi_document()

    assert document["asyncapi"] == "3.0.0"
    assert document["defaultContentType"] == CONTENT_TYPE
    assert document["info"]["title"]
    assert document["info"]["version"]


def test_asyncapi_has_one_channel_per_topic() -> None:
    channels = asyncapi_document()["channels"]

    addresses = [channel["address"] for channel in channels.values()]
    assert sorted(addresses) == sorted(all_topics())
    assert len(addresses) == len(set(addresses))
    assert all(channel["description"] for channel in channels.values())


def test_every_channel_ref_resolves_to_a_component_message() -> None:
    document = asyncapi_document()

    refs = list(_refs(document["channels"]))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/messages/"), ref
        assert isinstance(_resolve(document, ref), dict), ref


def test_every_message_is_reachable_from_exactly_its_topic_channel() -> None:
    document = asyncapi_document()
    messages = document["components"]["messages"]

    by_type: dict[str, list[str]] = {}
    for channel in document["channels"].values():
        for ref in _refs(channel):
            by_type.setdefault(_resolve(document, ref)["name"], []).append(channel["address"])

    assert {m["name"] for m in messages.values()} == set(CATALOG)
    assert by_type == {t: [str(spec.topic)] for t, spec in CATALOG.items()}


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_asyncapi_message_carries_the_event_schema_and_ce_type_header(spec: EventSpec) -> None:
    messages = asyncapi_document()["components"]["messages"]

    (message,) = [m for m in messages.values() if m["name"] == spec.type]
    assert message["contentType"] == CONTENT_TYPE
    assert message["headers"]["properties"]["ce_type"]["const"] == spec.type
    assert message["payload"] == json_schemas()[f"{spec.type}.schema.json"]
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
