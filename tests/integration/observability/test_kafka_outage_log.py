"""A Kafka broker that goes away is logged once, summarised while it stays away and logged once
when it is back, instead of one line per failed attempt of every aiokafka loop.

The test stops a broker of its own (`logtest-` processes, ports shifted by 20,000, files under
`.local/logtest/`) under a real consumer, producer and lag watch in another process, and reads
that process's log.
"""

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copctl.devstack import kafka
from copctl.devstack.paths import REPO_ROOT, local_dir
from copctl.devstack.processes import Instance, port_open, running, stop, wait_until

pytestmark = pytest.mark.integration

INSTANCE = Instance(prefix="logtest-", port_offset=20_000, data_dir=local_dir() / "logtest")
SUMMARY_EVERY_S = 2.0

CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError
    from shared import outage_log
    from shared.kafka_watch import KafkaWatch
    from shared.logs import configure_logging

    async def main(bootstrap: str) -> None:
        configure_logging("cop-outage-test", "INFO")
        outage_log.KAFKA.summary_every_s = float(sys.argv[2])
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic("logtest", 3, 1)])
        except TopicAlreadyExistsError:
            pass
        await admin.close()
        consumer = AIOKafkaConsumer(
            "logtest", bootstrap_servers=bootstrap, group_id="logtest", retry_backoff_ms=100
        )
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await consumer.start()
        await producer.start()
        watch = KafkaWatch(bootstrap, {"logtest": ["logtest"]}, "logtest", interval_s=1.0)
        await watch.start()
        await producer.send_and_wait("logtest", b"first")
        print("ready", flush=True)

        async def produce() -> None:
            while True:
                try:
                    await asyncio.wait_for(producer.send_and_wait("logtest", b"x"), 5)
                except Exception:
                    pass
                await asyncio.sleep(0.05)

        async def consume() -> None:
            while True:
                try:
                    await consumer.getmany(timeout_ms=200)
                except Exception:
                    await asyncio.sleep(0.05)

        await asyncio.gather(produce(), consume())

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    name = INSTANCE.name(kafka.NAME)
    port = INSTANCE.port(kafka.PORT)
    if running(name) is None and port_open("127.0.0.1", port):
        pytest.fail(f"something that is not {name} listens on :{port}")
    kafka.start_broker(INSTANCE)
    try:
        yield kafka.bootstrap_servers(INSTANCE)
    finally:
        stop(name)


def _lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for raw in path.read_text().splitlines():
        try:
            found.append(json.loads(raw))
        except ValueError:
            found.append({"message": raw, "logger": "?", "level": "?"})
    return found


def test_a_lost_broker_is_logged_once_summarised_and_logged_back(
    broker: str, tmp_path: Path
) -> None:
    out, err = tmp_path / "client.out", tmp_path / "client.log"
    with out.open("w") as stdout, err.open("w") as stderr:
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, broker, str(SUMMARY_EVERY_S)],
            stdout=stdout,
            stderr=stderr,
            cwd=REPO_ROOT,
        )
    try:
        wait_until(lambda: "ready" in out.read_text(), timeout_s=60, what="the client to start")

        def reaches_the_broker() -> bool:  # a first lag measure too slow on a busy machine
            states = [line["outage"] for line in _lines(err) if line.get("dependency") == "kafka"]
            return not states or states[-1] == "back"  # is an outage of its own, closed by "back"

        wait_until(reaches_the_broker, timeout_s=60, what="the client to reach the broker")
        before = len(_lines(err))
        stop(INSTANCE.name(kafka.NAME))

        def outage_lines() -> list[dict[str, Any]]:
            return [line for line in _lines(err)[before:] if line.get("dependency") == "kafka"]

        # Held until aiokafka has failed hundreds of times: three summaries, 2 s apart.
        wait_until(
            lambda: sum(line.get("outage") == "still_lost" for line in outage_lines()) >= 3,
            timeout_s=60,
            what="three summaries of the lost broker",
        )
        during = _lines(err)[before:]
        lost = [line for line in during if line.get("outage") == "lost"]
        summaries = [line for line in during if line.get("outage") == "still_lost"]
        assert len(lost) == 1, during
        assert lost[0]["level"] == "warning"
        assert lost[0]["message"].startswith("kafka unreachable: ")
        suppressed = sum(line["suppressed"] for line in summaries)
        # Without the filter each suppressed error is a line of its own.
        assert suppressed >= 100, summaries
        aiokafka_lines = [line for line in during if line["logger"].startswith("aiokafka")]
        assert len(aiokafka_lines) <= len(lost) + len(summaries) + 5, aiokafka_lines

        kafka.start_broker(INSTANCE)
        wait_until(
            lambda: any(line.get("outage") == "back" for line in outage_lines()),
            timeout_s=120,
            what="the line that says Kafka is back",
        )
        back = [line for line in outage_lines() if line.get("outage") == "back"]
        assert len(back) == 1
        assert back[0]["level"] == "info"
        assert back[0]["message"].startswith("kafka reachable again after ")
    finally:
        client.terminate()
        client.wait(timeout=30)
