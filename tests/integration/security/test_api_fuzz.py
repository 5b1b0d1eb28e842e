"""Every service's OpenAPI document, fuzzed with schemathesis in the test process against the real
Kafka, MongoDB-protocol server and Redis: valid and invalid requests for every operation, sent
with an operator's token (and a registered system's API key on `/ingest`).

No answer may be a 5xx; every refusal is RFC 9457 problem+json whose `status` is the answer's,
and a 400 or 422 names the field that is wrong. The number of examples per operation is kept
small (`EXAMPLES`) so the four services are fuzzed in about a minute; raise it locally with
`COP_FUZZ_EXAMPLES` for a longer hunt.

Periods and times at the ends of the calendar are sent on every run as explicit examples: every
query parameter and top-level body field that takes a period (`YYYY-MM`, `YYYY-Qn`, `YYYY-Www`)
or a date-time gets each of `PERIOD_EDGES` or `TIME_EDGES`, in an otherwise valid request.
"""

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, example, find, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.python import asgi

from services.events.bootstrap import bootstrap as events_bootstrap
from services.events.settings import EventsSettings
from services.knowledge.bootstrap import bootstrap as knowledge_bootstrap
from services.knowledge.settings import KnowledgeSettings
from services.notifier.bootstrap import bootstrap as notifier_bootstrap
from services.notifier.settings import NotifierSettings
from services.recognition.bootstrap import bootstrap as recognition_bootstrap
from services.recognition.settings import RecognitionSettings
from shared.settings import ServiceSettings
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, settings_for

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("COP_FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
ADMIN = bearer("ops", admin=True)["Authorization"]
SENT: dict[str, int] = {}
UNNAMED: dict[str, str] = {}  # refusals that name no field: title -> first request seen
EDGES_SENT: dict[str, int] = {}

# Years 0, 1, 2, 9998 and 9999, quarters, ISO weeks 52 and 53, leap days, the furthest offsets.
PERIOD_EDGES = [
    "0000-01", "0001-01", "0001-Q1", "0001-W01", "0002-01", "0002-Q1", "0002-W01", "0004-02",
    "9996-Q1", "9998-12", "9998-Q4", "9998-W53", "9999-01", "9999-12", "9999-Q4", "9999-W52",
    "2026-W53", "all", "week",
]  # fmt: skip
TIME_EDGES = [
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "0001-12-31T23:59:59.999999Z",
    "0002-01-01T00:00:00Z", "0001-12-31T23:00:00-01:00", "0004-02-29T23:30:00-01:00",
    "9996-02-29T00:30:00+01:00", "9998-12-31T23:59:59.999999Z", "9999-01-01T00:00:00+00:01",
    "9999-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "2026-11-21T09:00:00",
]  # fmt: skip
PERIOD_PARAMETERS = {"period", "from", "to"}  # a string query parameter of these names
TYPICAL = {"period": "2026-01", "time": "2026-01-01T00:00:00Z"}


DATABASES: list[str] = []


def _app(
    infra: Infrastructure,
    make: Callable[[Any], FastAPI],
    settings_cls: type[ServiceSettings],
    **overrides: Any,
) -> FastAPI:
    namespace = f"fz{uuid.uuid4().hex[:8]}"
    service_settings = settings_for(settings_cls, infra, namespace, **overrides)
    DATABASES.append(service_settings.mongodb_database)
    return make(service_settings)


@pytest.fixture(scope="module")
def apps(infra: Infrastructure) -> Iterator[dict[str, FastAPI]]:
    built = {
        "events": _app(infra, events_bootstrap, EventsSettings),
        "knowledge": _app(infra, knowledge_bootstrap, KnowledgeSettings),
        "recognition": _app(infra, recognition_bootstrap, RecognitionSettings),
        "notifier": _app(
            infra, notifier_bootstrap, NotifierSettings, chat_webhook_url=None,
            dispatch_interval_s=600.0,
        ),
    }  # fmt: skip
    try:
        yield built
    finally:
        # schemathesis started each app's lifespan (broker, consumers) on first use.
        asgi.shutdown_lifespans()
        for name in DATABASES:
            asyncio.run(drop_database(infra, name))
        print("fuzz cases sent per service:", SENT, "refusals naming no field:", UNNAMED)
        print("period and time edges sent per service:", EDGES_SENT)


@pytest.fixture(scope="module")
def api_key(apps: dict[str, FastAPI]) -> str:
    """A system allowed to send every type, for `/ingest`."""
    from shared.events.catalog import CATALOG

    # schemathesis types an ASGI message as a dict, Starlette as a MutableMapping
    with asgi.get_client(cast(asgi.ASGIApp, apps["events"])) as client:
        response = client.post(
            f"http://{asgi.HOST}/sources",
            json={"name": f"fuzz-{uuid.uuid4().hex[:6]}", "types": sorted(CATALOG)},
            headers={"Authorization": ADMIN},
        )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def send(case: Any, service: str, authorization: str) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = {**headers, "Authorization": authorization}
    if case.query:
        case.query.pop("wait", None)  # fuzzing must not sit waiting for projections
    response = case.call()
    SENT[service] = SENT.get(service, 0) + 1
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    # `/readyz` answers 503 by contract when a dependency does not answer within its timeout
    # (a busy machine's MongoDB ping); every other 5xx is a failure.
    documented = case.formatted_path == "/readyz" and response.status_code == 503
    assert response.status_code < 500 or documented, where
    if response.status_code >= 400:
        (content_type, *_) = response.headers.get("content-type", [""])  # a list per name
        assert content_type.startswith("application/problem+json"), where
        problem = response.json()
        assert problem["status"] == response.status_code, where
        assert problem.get("title"), where
        if response.status_code in (400, 422):
            named = [e.get("field") for e in problem.get("errors", [])] or [problem.get("field")]
            if not all(isinstance(f, str) and f for f in named):
                UNNAMED.setdefault(problem["title"], where)


def _takes(schema: dict[str, Any], name: str = "") -> str | None:
    """`time` for a date-time, `period` for a string query parameter named like a period."""
    text = json.dumps(schema)
    if '"date-time"' in text:
        return "time"
    return "period" if name in PERIOD_PARAMETERS and '"string"' in text else None


def _body_schema(operation: Any) -> dict[str, Any]:
    for body in operation.body:
        if body.media_type == "application/json":
            schema: dict[str, Any] = body.definition.get("schema", {})
            if "$ref" in schema:
                schema = schema["x-bundled"][schema["$ref"].rsplit("/", 1)[1]]
            return schema
    return {}


def edge_cases(operation: Any) -> list[Any]:
    """The operation's requests with one period or time at an edge each, the rest valid."""
    query_kinds = {
        p.name: kind
        for p in operation.query
        if (kind := _takes(p.definition.get("schema", {}), p.name))
    }
    body_times = [
        name for name, prop in _body_schema(operation).get("properties", {}).items() if _takes(prop)
    ]
    if not query_kinds and not body_times:
        return []
    valid = find(
        operation.as_strategy(GenerationMode.POSITIVE),
        lambda case: True,
        settings=settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck)),
    )
    query = {**(valid.query or {}), **{n: TYPICAL[k] for n, k in query_kinds.items()}}
    cases = []

    def case(query: dict[str, Any], body: Any) -> Any:
        return operation.Case(
            path_parameters=valid.path_parameters,
            query=query,
            body=body,
            media_type=valid.media_type,
        )

    for name, kind in query_kinds.items():
        for edge in PERIOD_EDGES if kind == "period" else TIME_EDGES:
            cases.append(case({**query, name: edge}, valid.body))
    if isinstance(valid.body, dict):
        for name in body_times:
            for edge in TIME_EDGES:
                cases.append(case(query, {**valid.body, name: edge}))
    return cases


def fuzz(app: FastAPI, service: str, authorization: Callable[[Any], str]) -> None:
    """Every operation of the app's OpenAPI document, with valid and with invalid requests, and
    with periods and times at the ends of the calendar."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert operations
    for operation in operations:
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @FUZZ
        @given(case=strategy)
        def run(case: Any) -> None:
            send(case, service, authorization(case))

        edges = edge_cases(operation)
        for edge in edges:
            run = example(case=edge)(run)
        EDGES_SENT[service] = EDGES_SENT.get(service, 0) + len(edges)
        run()


def admin(case: Any) -> str:
    return ADMIN


def test_fuzz_events(apps: dict[str, FastAPI], api_key: str) -> None:
    fuzz(
        apps["events"],
        "events",
        lambda case: f"Bearer {api_key}" if case.operation.path == "/ingest" else ADMIN,
    )


def test_fuzz_knowledge(apps: dict[str, FastAPI]) -> None:
    fuzz(apps["knowledge"], "knowledge", admin)


def test_fuzz_recognition(apps: dict[str, FastAPI]) -> None:
    fuzz(apps["recognition"], "recognition", admin)


def test_fuzz_notifier(apps: dict[str, FastAPI]) -> None:
    fuzz(apps["notifier"], "notifier", admin)


def test_every_400_or_422_of_the_fuzz_run_named_the_wrong_field() -> None:
    assert SENT, "run with the fuzz tests above"
    assert UNNAMED == {}
