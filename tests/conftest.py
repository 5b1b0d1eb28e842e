"""Shared fixtures: real infrastructure for integration and end-to-end tests."""

import uuid
from collections.abc import Iterator

import pytest

from tests.infra import Infrastructure, describe_sync, provide_infra
from tests.namespaces import delete_tracked_topics

_described: dict[str, str] = {}


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    """Real Kafka, MongoDB-protocol server and Redis for the whole session."""
    with provide_infra() as found:
        found.facts = describe_sync(found)
        _described.update({"origin": found.origin, **found.facts})
        yield found
        delete_tracked_topics(found.kafka_bootstrap_servers)


@pytest.fixture
def unique() -> str:
    """A short random suffix that keeps ids, topics and databases of one test apart."""
    return uuid.uuid4().hex[:10]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _described:
        terminalreporter.section("infrastructure the tests ran against")
        for key, value in _described.items():
            terminalreporter.write_line(f"{key}: {value}")
