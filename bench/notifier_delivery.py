"""Notifier fan-out: deliveries per second to the chat webhook sink and e-mails per second to the
SMTP sink, from `cop.kudos.judged.v1` on Kafka to the message received by the sink.

    python -m bench.notifier_delivery [--quick] [--repeats 3] [--profile DIR]

The notifier runs as a process (port 18185) with its own topics, consumer group and database; the
sink (`bench.sink_server`) is a process of its own that counts what arrives. Its 200 recipients
have e-mail addresses and the rate limits are lifted, so the figures are the notifier's own pace:
each judged kudos is one e-mail and one post to the default chat webhook. Judged kudos are
produced ahead of the notifier the whole time (a backlog of a few seconds of its pace), so it is
never idle while measured; after a warm-up, `repeats` consecutive windows are counted and the
median of their rates is reported.
"""

import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.harness import BenchInfra, run_services_alone
from bench.service_processes import CpuMeter, involved_pids, notifier_env, staged
from bench.sink_server import Sink
from bench.targets import TARGETS
from copctl.devstack.stack import ServiceSpec
from services.notifier.settings import NotifierSettings
from shared.events.catalog import KudosJudged
from shared.events.codec import encode
from shared.events.envelope import new_event

NOTIFIER_PORT = 18185
MEMBERS = 200


class JudgedFeed:
    """`cop.kudos.judged.v1` events, produced ahead of the notifier: never more than `ahead`
    kudos beyond what the sink has received."""

    def __init__(self, infra: BenchInfra, prefix: str, members: list[str]) -> None:
        self._infra, self._prefix, self._members = infra, prefix, members
        self._run = uuid.uuid4().hex[:6]
        self.produced = 0
        self.ahead = 2_000

    def _event(self, i: int) -> Any:
        members = self._members
        return new_event(
            KudosJudged(
                kudos_id=f"kb{i}-{self._run}",
                community_id=f"c{i % 8}",
                from_id=members[i % len(members)],
                message="Thanks for the review",
                value_tag="helpfulness",
                period="2026-11",
                recipients=[{"member_id": members[(i + 1) % len(members)], "verdict": "counted"}],
            ),
            source="bench",
        )

    async def run(self, sink: Sink, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._infra.kafka_bootstrap_servers, acks="all", linger_ms=10
        )
        await producer.start()
        try:
            while not stop.is_set():
                posts, _ = await sink.counts(client)
                missing = self.ahead - (self.produced - posts)
                if missing < 200:
                    await asyncio.sleep(0.1)
                    continue
                for i in range(self.produced, self.produced + missing):
                    record = encode(self._event(i))
                    headers = [(k, v.encode()) for k, v in record.headers.items()]
                    await producer.send(
                        self._prefix + record.topic, record.value, key=record.key, headers=headers
                    )
                await producer.flush()
                self.produced += missing
        finally:
            await producer.stop()


async def bench_notifier(
    infra: BenchInfra, *, quick: bool, repeats: int, profile_dir: Path | None = None
) -> dict[str, Any]:
    window_s = 4.0 if quick else 10.0
    repeats = max(repeats, 1)
    began = time.monotonic()
    namespace = infra.namespace()
    settings = infra.settings(NotifierSettings, namespace)
    members = [f"nb{i}-{uuid.uuid4().hex[:4]}" for i in range(MEMBERS)]
    posts_per_s: list[float] = []
    mails_per_s: list[float] = []
    cpu: list[dict[str, float]] = []

    def env_for(spec: ServiceSpec, sink: Sink) -> dict[str, str]:
        return notifier_env(settings, sink, "cop")

    specs = (ServiceSpec("notifier", NOTIFIER_PORT),)
    async with staged(
        infra, namespace, specs, env_for, (settings,), profile_dir=profile_dir
    ) as stage:
        services, sink, client = stage.services, stage.sink, stage.client
        rss_idle = services.rss_mb()
        await stage.add_recipients(infra, settings.kafka_topic_prefix, members)
        feed = JudgedFeed(infra, settings.kafka_topic_prefix, members)
        stop = asyncio.Event()
        feeding = asyncio.create_task(feed.run(sink, client, stop))
        meter = CpuMeter(involved_pids(services, sink))
        try:
            await _warm_up(sink, client, quick)
            services.start_profiling()
            for _ in range(repeats):
                meter.start()
                posts0, mails0 = await sink.counts(client)
                t0 = time.monotonic()
                await asyncio.sleep(window_s)
                posts1, mails1 = await sink.counts(client)
                elapsed = time.monotonic() - t0
                cpu.append(meter.read())
                posts_per_s.append((posts1 - posts0) / elapsed)
                mails_per_s.append((mails1 - mails0) / elapsed)
                # Keep a few seconds of work queued at the pace just seen.
                feed.ahead = max(2_000, int(4 * (posts_per_s[-1] + mails_per_s[-1])))
            await services.save_profiles()
        finally:
            stop.set()
            await feeding
        rss_after = services.rss_mb()
    profiles = services.profile_summaries()
    return _report(window_s, posts_per_s, mails_per_s, cpu, rss_idle, rss_after, profiles, began)


async def _warm_up(sink: Sink, client: httpx.AsyncClient, quick: bool) -> None:
    """Until posts flow, then a little longer: the consumer group's join is not measured."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        posts, _ = await sink.counts(client)
        if posts > 0:
            break
        await asyncio.sleep(0.1)
    else:
        raise TimeoutError("no chat post reached the sink within 60 s")
    await asyncio.sleep(1.0 if quick else 3.0)


def _report(
    window_s: float,
    posts_per_s: list[float],
    mails_per_s: list[float],
    cpu: list[dict[str, float]],
    rss_idle: dict[str, float],
    rss_after: dict[str, float],
    profiles: dict[str, dict[str, Any]],
    began: float,
) -> dict[str, Any]:
    posts = statistics.median(posts_per_s)
    mails = statistics.median(mails_per_s)
    cpu_median = {name: statistics.median(c.get(name, 0.0) for c in cpu) for name in cpu[0]}
    busiest = sorted(cpu_median.items(), key=lambda kv: -kv[1])
    cpu_text = ", ".join(f"{k} {v:.0f}" for k, v in busiest)
    rows: list[dict[str, Any]] = [
        {
            "metric": "deliveries/s to the webhook sink",
            "value": round(posts),
            "unit": f"posts/s, median of {len(posts_per_s)} windows of {window_s:g} s "
            f"({', '.join(f'{p:.0f}' for p in posts_per_s)})",
        },
        {
            "metric": "e-mails/s to the SMTP sink",
            "value": round(mails),
            "unit": f"messages/s, median of {len(mails_per_s)} windows "
            f"({', '.join(f'{m:.0f}' for m in mails_per_s)})",
        },
        {
            "metric": "notifier deliveries/s, both kinds",
            "value": round(posts + mails),
            "unit": "deliveries/s (each judged kudos is one e-mail and one chat post)",
        },
        {"metric": "CPU while delivering", "value": cpu_text, "unit": "% of one core, median"},
        {
            "metric": "notifier benchmark wall time",
            "value": round(time.monotonic() - began, 1),
            "unit": "s",
        },
    ]
    notifier_cpu = cpu_median.get("notifier", 0.0)
    why = (
        f"{posts:.0f} posts/s and {mails:.0f} e-mails/s with the notifier at "
        f"{notifier_cpu:.0f}% of one core ("
        + (
            "its single event loop is saturated"
            if notifier_cpu >= 85
            else f"not CPU-bound; the busiest process is {busiest[0][0]}, and each wave of "
            "sends waits on its round trips to MongoDB, Redis, SMTP and the webhook"
        )
        + f"); CPU, % of one core: {cpu_text}"
    )
    for service, summary in profiles.items():
        top = summary.get("top_project_inclusive", [])[:4]
        if top:
            why += f". {service} profile: " + "; ".join(
                f"{t['function']} {t['share'] * 100:.0f}%" for t in top
            )
    result: dict[str, Any] = {
        "rows": rows,
        "goals": [
            TARGETS["notifier_posts"].judge(posts, why=why),
            TARGETS["notifier_emails"].judge(mails, why=why),
        ],
        "rss": {
            s: {
                "idle_mb": rss_idle.get(s, float("nan")),
                "after_mb": rss_after.get(s, float("nan")),
            }
            for s in rss_idle
        },
    }
    if profiles:
        result["profiles"] = profiles
    return result


def main() -> None:
    run_services_alone(bench_notifier, "notifier_delivery", "Notifier fan-out", __doc__)


if __name__ == "__main__":
    main()
