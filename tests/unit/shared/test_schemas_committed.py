"""The schemas in docs/schemas are the generated ones: a model change must regenerate them."""

import json
from pathlib import Path

from shared.events.schemas import asyncapi_document, json_schemas

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_committed_json_schemas_match_the_models() -> None:
    for name, schema in json_schemas().items():
        committed = json.loads((DOCS / name).read_text())
        assert committed == schema, f"{name} is stale: run `make schemas`"


def test_committed_asyncapi_matches_the_models() -> None:
    committed = json.loads((DOCS / "asyncapi.json").read_text())
    assert committed == asyncapi_document(), "asyncapi.json is stale: run `make schemas`"


def test_no_schema_file_is_left_from_a_removed_event_type() -> None:
    expected = {*json_schemas(), "asyncapi.json"}
    assert {p.name for p in DOCS.glob("*.json")} == expected
