"""The fault suite's own Kafka, MongoDB-protocol server and Redis, and platforms on them."""

import asyncio
import contextlib
import shutil
from collections.abc import Awaitable, Callable, Iterator

import pytest

from copctl.devstack.processes import stop
from copctl.devstack.stack import INFRA, Infra, up_infra
from tests.faults.harness import INSTANCE, PARTITIONS, Platform, new_namespace
from tests.sinks import running_sinks


@pytest.fixture(scope="session")
def fault_infra() -> Iterator[Infra]:
    """Started fresh for the session on other ports and files than anyone else's; the suite
    kills and restarts these freely. Stopped at the end."""
    for name in reversed(INFRA):
        stop(INSTANCE.name(name))
    if INSTANCE.data_dir is not None:
        shutil.rmtree(INSTANCE.data_dir, ignore_errors=True)
    infra = up_infra(instance=INSTANCE, partitions=PARTITIONS, from_env=False)
    try:
        yield infra
    finally:
        for name in reversed(INFRA):
            stop(INSTANCE.name(name))


PlatformFactory = Callable[..., Awaitable[Platform]]


@pytest.fixture
def platforms(
    fault_infra: Infra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlatformFactory]:
    """Start platforms (each in a namespace of its own, with its own sinks); all stopped after."""
    started: list[Platform] = []
    with contextlib.ExitStack() as stack:

        async def make(
            kind: str, *, replicas: int = 1, env: dict[str, dict[str, str]] | None = None
        ) -> Platform:
            """`env`: settings of one service or another, by service name."""
            base = tmp_path_factory.mktemp(f"faults-{kind}")
            sinks = stack.enter_context(running_sinks(base))
            platform = Platform(fault_infra, new_namespace(kind), base, sinks, overrides=env or {})
            started.append(platform)
            await asyncio.to_thread(platform.start, replicas)
            await platform.register_source()
            return platform

        try:
            yield make
        finally:
            for platform in started:
                platform.stop()
