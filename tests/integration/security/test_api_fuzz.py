"""Every service's OpenAPI document, fuzzed with schemathesis in the test process against the real
Kafka, MongoDB-protocol server and Redis: valid and invalid requests for every operation, sent
with an operator's token (and a registered system's API key on `/ingest`).

No answer may be a 5xx; every refusal is RFC 9457 problem+json whose `status` is the answer's,
and a 400 or 422 names the field that is wrong. The number of examples per operation is kept
small (`EXAMPLES`) so the four services are fuzzed in about a minute; raise it locally with
`COP_FUZZ_EXAMPLES` for a longer hunt.
"""

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
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


@pytest.fixture(scope="module")
def api_key(apps: dict[str, FastAPI]) -> str:
    """A system allowed to send every type, for `/ingest`."""
    from shared.events.catalog import CATALOG

    with asgi.get_client(apps["events"]) as client:
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
    assert response.status_code < 500, where
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


def fuzz(app: FastAPI, service: str, authorization: Callable[[Any], str]) -> None:
    """Every operation of the app's OpenAPI document, with valid and with invalid requests."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @FUZZ
        @given(case=strategy)
        def run(case: Any) -> None:
            send(case, service, authorization(case))

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
