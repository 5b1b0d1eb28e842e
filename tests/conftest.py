"""Shared fixtures: real infrastructure for integration and end-to-end tests."""

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests import namespaces
from tests.infra import INFRA_VARIABLES, Infrastructure, describe_sync, provide_infra
from tests.namespaces import delete_tracked_topics

_described: dict[str, str] = {}
_fault_lines: list[str] = []  # the fault suite's accounting, from whichever process ran it
_shared = pytest.StashKey[contextlib.ExitStack]()


def pytest_configure(config: pytest.Config) -> None:
    """With several workers (`-n`), the controller starts the infrastructure once and hands it
    to every worker through the environment; each test keeps to its own ids and topics."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    stack = contextlib.ExitStack()
    config.stash[_shared] = stack
    found = stack.enter_context(provide_infra())
    _described.update({"origin": found.origin, **describe_sync(found)})
    for name, value in zip(INFRA_VARIABLES, found.urls(), strict=True):
        os.environ[name] = value


_FAULTS = "tests/faults"


class _ModulesAndFaults(LoadScopeScheduling):  # type: ignore[misc]  # xdist has no type hints
    """With workers (`-n`), a module's tests run together on one worker, so its module-wide
    fixtures (a running platform, sinks) start once; the whole fault suite runs on one worker,
    one test after another, since it kills and restarts infrastructure of its own."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return _FAULTS if module.startswith(_FAULTS + "/") else module

    def _assign_work_unit(self, node: Any) -> None:
        """The fault suite first: its minutes are mostly waits, which the other worker fills
        with the rest; started last, it would run alone at the end."""
        if _FAULTS in self.workqueue:
            self.workqueue.move_to_end(_FAULTS, last=False)
        super()._assign_work_unit(node)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
    return _ModulesAndFaults(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    if (stack := config.stash.get(_shared, None)) is not None:
        stack.close()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    """Real Kafka, MongoDB-protocol server and Redis for the whole session."""
    with provide_infra() as found:
        found.facts = describe_sync(found)
        _described.update({"origin": found.origin, **found.facts})
        namespaces.broker[:] = [found.kafka_bootstrap_servers]
        yield found
        delete_tracked_topics(found.kafka_bootstrap_servers)


@pytest.fixture(scope="module", autouse=True)
def _module_topics_deleted() -> Iterator[None]:
    """The topics of the namespaces a module's tests made go when the module is done (its
    platforms and apps, module fixtures, have stopped by then: this one is torn down last)."""
    yield
    namespaces.sweep()


@pytest.fixture
def unique() -> str:
    """A short random suffix that keeps ids, topics and databases of one test apart."""
    return uuid.uuid4().hex[:10]


def _fault_accounting() -> list[str]:
    """The fault suite's count lines, where this process ran it (its module is loaded then)."""
    harness = sys.modules.get("tests.faults.harness")
    return [count.line() for count in harness.SUMMARY] if harness else []


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # a worker: the controller prints the summary
        session.config.workeroutput["fault_accounting"] = _fault_accounting()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """The controller of `-n`: a worker's fault accounting, for the summary."""
    _fault_lines.extend(getattr(node, "workeroutput", {}).get("fault_accounting", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if lines := _fault_lines or _fault_accounting():
        terminalreporter.section("fault accounting (events and effects)")
        for line in lines:
            terminalreporter.write_line(line)
    if _described:
        terminalreporter.section("infrastructure the tests ran against")
        for key, value in _described.items():
            terminalreporter.write_line(f"{key}: {value}")
