"""Fixtures of the notifier's tests."""

from collections.abc import Iterator

import pytest

from tests.sinks import Sinks, running_sinks


@pytest.fixture(scope="module")
def sinks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sinks]:
    """The SMTP and chat sinks, one pair for each test module."""
    with running_sinks(tmp_path_factory.mktemp("notifier-sinks")) as running:
        yield running
