"""One run: the sink and the two services started, channels and recipients set up, a warm-up, the
rates measured; everything of the run removed afterwards."""

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench.e2e_latency.load import COMMUNITIES, KudosLoad
from bench.e2e_latency.rates import Measurement, Plan
from bench.e2e_latency.results import report
from bench.e2e_latency.window import Watch, run_window
from bench.harness import BenchInfra
from bench.service_processes import CpuMeter, involved_pids, notifier_env, service_env, staged
from bench.sink_server import Sink
from copctl.devstack.stack import ServiceSpec
from services.notifier import rebuild as notifier_topics
from services.notifier.settings import NotifierSettings
from services.recognition import rebuild as recognition_topics
from services.recognition.settings import RecognitionSettings
from shared.lag import GroupLag

RECOGNITION_PORT, NOTIFIER_PORT = 18181, 18182


async def bench_e2e(
    infra: BenchInfra, *, quick: bool, repeats: int, profile_dir: Path | None = None
) -> dict[str, Any]:
    """Start the sink and the services, set up channels and recipients, warm up, measure the
    rates; a section of results."""
    plan = Plan.of(quick)
    namespace = infra.namespace()
    rec = infra.settings(RecognitionSettings, namespace)
    notif = infra.settings(NotifierSettings, namespace)
    began = time.monotonic()
    specs = (ServiceSpec("recognition", RECOGNITION_PORT), ServiceSpec("notifier", NOTIFIER_PORT))

    def env_for(spec: ServiceSpec, sink: Sink) -> dict[str, str]:
        if spec.name == "recognition":
            return service_env(rec)
        return notifier_env(notif, sink, "default")

    async with staged(
        infra, namespace, specs, env_for, (rec, notif), profile_dir=profile_dir
    ) as stage:
        services, sink, client = stage.services, stage.sink, stage.client
        rss_idle = services.rss_mb()
        started_s = time.monotonic() - began
        load = KudosLoad(rec, RECOGNITION_PORT)
        await webhook_channels(client, services.urls["notifier"], sink, namespace)
        await stage.add_recipients(infra, notif.kafka_topic_prefix, load.recipients)
        lags = consumer_lags(infra, namespace, rec, notif)
        for lag in lags.values():
            await lag.start()
        try:
            watch = Watch(sink, lags, CpuMeter(involved_pids(services, sink)), client)
            await run_window(load, watch, 20, 3, 5.0)  # warm-up, not reported
            measured = Measurement(load, watch, plan)
            services.start_profiling()
            await measured.run()
            await services.save_profiles()
        finally:
            for lag in lags.values():
                await lag.stop()
            await load.close()
        await asyncio.sleep(1)
        rss_after = services.rss_mb()
    profiles = services.profile_summaries()
    return report(
        plan,
        repeats,
        measured,
        rss_idle,
        rss_after,
        profiles,
        started_s,
        time.monotonic() - began,
    )


async def webhook_channels(
    client: httpx.AsyncClient, notifier_url: str, sink: Sink, namespace: str
) -> None:
    """A signed webhook channel on the sink for each of the communities the kudos go to."""
    for c in range(COMMUNITIES):
        channel = {
            "id": "bench",
            "kind": "webhook",
            "url": f"{sink.url}/hooks/c{c}",
            "secret": f"bench-webhook-secret-{namespace}-0123456789",
        }
        answer = await client.put(
            f"{notifier_url}/communities/c{c}/channels", json={"channels": [channel]}
        )
        answer.raise_for_status()


def consumer_lags(
    infra: BenchInfra, namespace: str, rec: RecognitionSettings, notif: NotifierSettings
) -> dict[str, GroupLag]:
    """The lag of each consumer group a kudos passes: recognition's projection, its judge, the
    notifier."""
    groups = {
        "recognition": (rec.kafka_consumer_group, recognition_topics.TOPICS),
        "judge": (f"{rec.kafka_consumer_group}-judge", recognition_topics.JUDGE_TOPICS),
        "notifier": (notif.kafka_consumer_group, notifier_topics.TOPICS),
    }
    return {
        name: GroupLag(infra.kafka_bootstrap_servers, group, [f"{namespace}.{t}" for t in topics])
        for name, (group, topics) in groups.items()
    }
