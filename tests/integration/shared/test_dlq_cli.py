"""`copctl dlq list | redrive` on a real dead-letter topic."""

import asyncio
import json
import os
import subprocess
import sys

import pytest

from shared.events.envelope import new_event
from tests.infra import Infrastructure
from tests.integration.kafka_io import produce_event, read_all
from tests.integration.polling import eventually
from tests.integration.shared.test_event_consumer import Recorder, badge, run_consumer

pytestmark = pytest.mark.integration


def copctl(infra: Infrastructure, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers}
    return subprocess.run(
        [sys.executable, "-m", "copctl", "dlq", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


async def test_a_dead_letter_is_listed_and_redriven_to_its_topic_once_fixed(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    poison = new_event(badge("mallory"), source="test")
    await produce_event(infra.kafka_bootstrap_servers, namespace, poison)
    broken = Recorder(poison_member="mallory")
    done = asyncio.Event()
    group = f"g-{unique}"
    task = asyncio.create_task(run_consumer(infra, namespace, broken, group, done))
    await read_all(infra.kafka_bootstrap_servers, f"{namespace}cop.dlq.recognition", expect=1)
    done.set()
    await task

    listed = await asyncio.to_thread(
        copctl, infra, "list", "recognition", "--topic-prefix", namespace
    )
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    letter = json.loads(line)
    assert letter["id"] == poison.id
    assert letter["type"] == "cop.badge.awarded.v1"
    assert "cannot apply" in letter["error"]
    assert letter["original"] == f"{namespace}cop.recognition[0]@0"

    refused = await asyncio.to_thread(copctl, infra, "redrive", "recognition")
    assert refused.returncode == 2  # neither --offset nor --all
    redriven = await asyncio.to_thread(
        copctl, infra, "redrive", "recognition", "--offset", letter["dlq"],
        "--topic-prefix", namespace,
    )  # fmt: skip
    assert redriven.returncode == 0, redriven.stderr
    assert "re-drove 1" in redriven.stdout

    fixed = Recorder()
    done = asyncio.Event()
    task = asyncio.create_task(run_consumer(infra, namespace, fixed, group, done))

    async def applied() -> bool:
        return poison.id in fixed.applied

    await eventually(applied, what="the re-driven event applied by the fixed handler")
    done.set()
    await task
    assert fixed.applied == [poison.id]
