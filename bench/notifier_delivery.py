"""Notifier fan-out: deliveries per second to the chat webhook sink and e-mails per second to the
SMTP sink, end to end from `cop.kudos.judged.v1` on Kafka to the message stored by the sink.

    python -m bench.notifier_delivery [--kudos 1000] [--members 200]

The notifier runs in this process with its own topics, consumer group and database; the sinks are
the local stack's (real SMTP and HTTP servers, started on free ports); rate limits are lifted so
the figure is the notifier's own pace. Each kudos is one e-mail and one chat post.
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.harness import BenchInfra, delete_topics, provide_infra, serving
from copctl.devstack.processes import stop
from copctl.devstack.stack import start_sinks
from services.notifier.bootstrap import bootstrap
from services.notifier.settings import NotifierSettings
from shared.events.catalog import KudosJudged, MemberProfileUpdated
from shared.events.codec import encode
from shared.events.envelope import CloudEvent, new_event

OUT = Path(__file__).resolve().parent.parent / "bench-results"


@dataclass(frozen=True)
class DeliverySizes:
    kudos: int = 1_000
    members: int = 200

    @classmethod
    def from_env(cls) -> "DeliverySizes":
        return cls(
            int(os.environ.get("BENCH_NOTIFY_KUDOS", cls.kudos)),
            int(os.environ.get("BENCH_NOTIFY_MEMBERS", cls.members)),
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _sinks(base: Path) -> Iterator[tuple[int, int, Path, Path]]:
    smtp, chat, prefix = _free_port(), _free_port(), f"bench-{uuid.uuid4().hex[:6]}-"
    mail, posts = base / "mail", base / "chat"
    start_sinks(smtp_port=smtp, chat_port=chat, prefix=prefix, mail=mail, chat=posts)
    try:
        yield smtp, chat, mail, posts
    finally:
        for name in ("smtp-sink", "chat-sink"):
            stop(f"{prefix}{name}")


async def _produce(infra: BenchInfra, prefix: str, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sends = []
        for event in events:
            record = encode(event)
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            sends.append(
                await producer.send(
                    prefix + record.topic, record.value, key=record.key, headers=headers
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def _count(directory: Path, suffix: str) -> int:
    return sum(1 for _ in directory.glob(f"*{suffix}")) if directory.exists() else 0


async def bench_notifier(infra: BenchInfra, sizes: DeliverySizes) -> dict[str, Any]:
    namespace = infra.namespace()
    run = uuid.uuid4().hex[:6]
    members = [f"nb{i}-{run}" for i in range(sizes.members)]
    with tempfile.TemporaryDirectory() as tmp, _sinks(Path(tmp)) as (smtp, chat, mail, posts):
        settings = infra.settings(
            NotifierSettings,
            namespace,
            smtp_port=smtp,
            chat_webhook_url=f"http://127.0.0.1:{chat}/hooks/cop",
            chat_rate="500/second",
            email_rate="500/second",
            dispatch_interval_s=0.05,
        )
        async with serving(bootstrap(settings), settings) as client:
            profiles = [
                new_event(
                    MemberProfileUpdated(member_id=m, name=f"Member {i}", email=f"{m}@example.com"),
                    source="bench",
                )
                for i, m in enumerate(members)
            ]
            await _produce(infra, settings.kafka_topic_prefix, profiles)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                last = await client.get(f"/profiles/{members[-1]}")
                if last.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            kudos = [
                new_event(
                    KudosJudged(
                        kudos_id=f"kb{i}-{run}",
                        community_id=f"c{i % 8}",
                        from_id=members[i % len(members)],
                        message="Thanks for the review",
                        value_tag="helpfulness",
                        period="2026-11",
                        recipients=[
                            {"member_id": members[(i + 1) % len(members)], "verdict": "counted"}
                        ],
                    ),
                    source="bench",
                )
                for i in range(sizes.kudos)
            ]
            began = time.perf_counter()
            await _produce(infra, settings.kafka_topic_prefix, kudos)
            produced = time.perf_counter() - began
            mails_done = posts_done = None
            deadline = time.monotonic() + max(120.0, sizes.kudos / 5)
            while time.monotonic() < deadline and (mails_done is None or posts_done is None):
                elapsed = time.perf_counter() - began
                if mails_done is None and _count(mail, ".eml") >= sizes.kudos:
                    mails_done = elapsed
                if posts_done is None and _count(posts, ".json") >= sizes.kudos:
                    posts_done = elapsed
                await asyncio.sleep(0.05)
            latencies = _post_latencies(posts, kudos)
    if mails_done is None or posts_done is None:
        raise TimeoutError(f"not all delivered: mails {_count(mail, '.eml')}, posts in time")
    return {
        "kudos (one e-mail and one chat post each)": sizes.kudos,
        "produced in s": round(produced, 2),
        "e-mails/s to the SMTP sink": round(sizes.kudos / mails_done),
        "deliveries/s to the webhook sink": round(sizes.kudos / posts_done),
        "all e-mails stored, s": round(mails_done, 1),
        "all chat posts stored, s": round(posts_done, 1),
        "chat post stored after its event's time, ms p50 / p95": latencies,
    }


def _post_latencies(posts: Path, kudos: list[CloudEvent]) -> str:
    sent = {e.id: e.time.timestamp() for e in kudos}
    samples = []
    for path in posts.glob("*.json") if posts.exists() else []:
        stored = path.stat().st_mtime
        body = json.loads(path.read_text())["body"]
        cause = sent.get(body.get("event", {}).get("id", ""))
        if cause is not None:
            samples.append((stored - cause) * 1000)
    if len(samples) < 20:
        return "n/a"
    cuts = statistics.quantiles(samples, n=20)
    return f"{statistics.median(samples):.0f} / {cuts[18]:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kudos", type=int, default=DeliverySizes.kudos)
    parser.add_argument("--members", type=int, default=DeliverySizes.members)
    args = parser.parse_args()
    with provide_infra() as infra:
        try:
            result = asyncio.run(bench_notifier(infra, DeliverySizes(args.kudos, args.members)))
        finally:
            asyncio.run(delete_topics(infra))
    OUT.mkdir(exist_ok=True)
    (OUT / "notifier_delivery.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in result.items())]
    (OUT / "notifier_delivery.md").write_text("# Notifier fan-out\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
