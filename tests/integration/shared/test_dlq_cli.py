"""`copctl dlq list | redrive` on a real dead-letter topic."""

import asyncio
import json
import subprocess

import pytest

from shared.events.envelope import new_event
from shared.events.topics import Topic
from tests.copctl_process import run_copctl
from tests.infra import Infrastructure
from tests.integration.kafka_io import produce_event, produce_raw, read_all
from tests.integration.shared.recording import Recorder, badge, consuming, dead_letter_a_poison

pytestmark = pytest.mark.integration


def copctl(infra: Infrastructure, *args: str) -> subprocess.CompletedProcess[str]:
    return run_copctl("dlq", *args, env={"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers})


async def test_a_dead_letter_is_listed_and_redriven_to_its_topic_once_fixed(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    group = f"g-{unique}"
    poison, _, _ = await dead_letter_a_poison(infra, namespace, group)

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
    async with consuming(infra, namespace, fixed, group):
        await fixed.wait_for(poison.id, what="the re-driven event applied by the fixed handler")
    assert fixed.applied == [poison.id]


async def test_dlq_list_shows_every_letter_however_deep_large_or_unreadable(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    """Letters a consumer really dead-lettered: JSON nested 5,000 levels deep (the standard
    library's parser recurses until RecursionError), an event of about 900 KB, bytes that are
    not UTF-8, a JSON array; then a valid event, applied."""
    deep = b"[" * 5000 + b"]" * 5000
    huge = json.dumps(
        {**new_event(badge("ada"), source="test").model_dump(mode="json"), "id": "x" * 900_000}
    ).encode()
    poison = [deep, huge, b"\xff\xfe not json", b"[1, 2, 3]"]
    topic = namespace + str(Topic.RECOGNITION)
    for value in poison:
        await produce_raw(
            infra.kafka_bootstrap_servers,
            topic,
            value,
            key=b"c1",
            headers={"ce_type": "cop.badge.awarded.v1"},
        )
    valid = new_event(badge("grace"), source="test")
    await produce_event(infra.kafka_bootstrap_servers, namespace, valid)
    recorder = Recorder()
    async with consuming(infra, namespace, recorder, f"g-{unique}"):
        await recorder.wait_for(valid.id, what="the valid event behind the dead letters applied")
    await read_all(infra.kafka_bootstrap_servers, f"{namespace}cop.dlq.recognition", expect=4)

    listed = await asyncio.to_thread(
        copctl, infra, "list", "recognition", "--topic-prefix", namespace
    )

    assert listed.returncode == 0, listed.stderr[-2000:]
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [letter["size"] for letter in letters] == [len(value) for value in poison]
    assert {letter["type"] for letter in letters} == {"cop.badge.awarded.v1"}
    assert letters[1]["id"] == "x" * 200 + "…"  # cut short: one line per letter
    assert all(letter["original"].startswith(topic) and letter["error"] for letter in letters)
    assert max(len(line) for line in listed.stdout.splitlines()) < 5_000
    assert "4 dead letter(s)" in listed.stderr
