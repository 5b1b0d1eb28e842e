"""One run: the gateway (the events service) and the impact service started as processes in the
bench's namespace, a CI/CD system registered with a key for the CDEvents families, the services
given to their teams, the communities' events produced, the year of CI/CD events sent through
`POST /ingest` while the projection applies them, then the answers timed (`measure`)."""

import asyncio
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.harness import BenchInfra, produce_events
from bench.impact.cdevents import CI_SYSTEM, batches
from bench.impact.history import History, ImpactSizes
from bench.impact.measure import measure
from bench.projections import CatchUp, Progress, caught_up
from bench.recognition_health.periods import month_start
from bench.report import percentile, row
from bench.service_processes import (
    INFRA_PROCESSES,
    CpuMeter,
    Services,
    drop_namespace,
    free_port,
    running_services,
    service_env,
)
from copctl.devstack.processes import running
from copctl.devstack.stack import ServiceSpec
from services.events.settings import EventsSettings
from services.impact import rebuild
from services.impact.settings import ImpactSettings
from shared.auth import issue_token
from shared.events.cdevents import FAMILIES
from shared.kafka import ensure_topics

INGEST_CLIENTS = 4
OWNERS_AT_ONCE = 8
BATCH_TYPE = "application/cloudevents-batch+json"


async def bench_impact(infra: BenchInfra, sizes: ImpactSizes) -> dict[str, Any]:
    """Generate, start, ingest, catch up, time and check; a section of results."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request is noise here
    namespace = infra.namespace()
    settings = {
        "events": infra.settings(EventsSettings, namespace),
        "impact": infra.settings(ImpactSettings, namespace),
    }
    began = time.perf_counter()
    now = datetime.now(UTC)
    history = History(sizes, month_start(now.year, now.month), namespace.removeprefix("bench"))
    community = history.community.events()
    generated_s = time.perf_counter() - began
    rows = [
        row(
            "history",
            f"{sizes.teams} teams, {len(history.owners)} services, "
            f"{sum(len(t.members) for t in history.teams)} members, "
            f"{history.months[0]} to {history.months[-1]}, seed {sizes.seed}",
        ),
        row("CI/CD events (CDEvents)", len(history.facts), _kinds(history)),
        row("community events (profiles, sessions held), produced directly", len(community)),
        row("history generated in", round(generated_s, 1), "s"),
    ]
    prefix = f"{namespace}."
    await ensure_topics(
        infra.kafka_bootstrap_servers,
        partitions=settings["events"].kafka_topic_partitions,
        topic_prefix=prefix,
    )
    specs = (ServiceSpec("events", free_port()), ServiceSpec("impact", free_port()))
    level = os.environ.get("BENCH_SERVICE_LOG_LEVEL", "WARNING")
    impact = settings["impact"]
    admin = issue_token(impact.auth_token_secret, "bench-ops", scopes=("admin",))
    topics = [prefix + str(t) for t in rebuild.TOPICS]
    try:
        async with (
            running_services(
                infra, specs, lambda spec: service_env(settings[spec.name], LOG_LEVEL=level)
            ) as services,
            httpx.AsyncClient(headers={"Authorization": f"Bearer {admin}"}, timeout=120) as client,
            Progress(
                infra.kafka_bootstrap_servers,
                {impact.kafka_consumer_group: topics},
                impact.kafka_consumer_group,
            ) as progress,
        ):
            rss_idle = services.rss_mb()
            key = await register_ci(client, services.urls["events"])
            await give_services(client, services.urls["impact"], history.owners)
            await produce_events(infra, prefix, community)
            before = await caught_up(progress, time.perf_counter(), lambda: False, 120)
            meter = CpuMeter(_pids(services))
            meter.start()
            ingested, catch_up = await ingest_and_apply(
                progress,
                history,
                sizes,
                services.urls["events"],
                key,
                baseline=before.records,
            )
            cpu = meter.read()
            rows += _ingest_rows(ingested, catch_up, cpu, len(history.facts))
            section = await measure(services.urls["impact"], history, sizes)
            rss_after = services.rss_mb()
    finally:
        await drop_namespace(infra, namespace, [s.mongodb_database for s in settings.values()])
    section["rows"] = rows + section["rows"]
    section["rss"] = {
        f"{name} (impact bench)": {"idle_mb": rss_idle.get(name), "after_mb": rss_after.get(name)}
        for name in ("events", "impact")
    }
    return section


def _kinds(history: History) -> str:
    counts = Counter(fact.kind for fact in history.facts)
    return ", ".join(f"{kind} {n:,}" for kind, n in counts.most_common())


def _pids(services: Services) -> dict[str, int | None]:
    pids: dict[str, int | None] = {name: services.pid(name) for name in services.names}
    for name in INFRA_PROCESSES:
        proc = running(name)
        pids[name] = proc.pid if proc else None
    pids["driver"] = os.getpid()
    return pids


async def register_ci(client: httpx.AsyncClient, events_url: str) -> str:
    """A CI/CD system's API key, for the CDEvents families, with a rate limit never reached."""
    response = await client.post(
        f"{events_url}/sources",
        json={"name": CI_SYSTEM, "types": sorted(FAMILIES), "rate_limit_per_minute": 1_000_000},
    )
    response.raise_for_status()
    return str(response.json()["api_key"])


async def give_services(client: httpx.AsyncClient, impact_url: str, owners: dict[str, str]) -> None:
    """Each service to its team (`PUT /services/{id}`), as an operator or a catalog import."""
    limit = asyncio.Semaphore(OWNERS_AT_ONCE)

    async def give(service: str, team: str) -> None:
        async with limit:
            response = await client.put(f"{impact_url}/services/{service}", json={"team": team})
            response.raise_for_status()

    await asyncio.gather(*(give(s, t) for s, t in owners.items()))


@dataclass
class Ingested:
    accepted: int
    seconds: float
    latencies: list[float]  # each batch's, in seconds


async def ingest(url: str, key: str, history: History, sizes: ImpactSizes) -> Ingested:
    """The year through `POST /ingest`, in batches, from a few clients at once; every event must
    be accepted."""
    bodies = batches(history.facts, sizes.batch, history.run)
    latencies: list[float] = []
    accepted = 0
    headers = {"Authorization": f"Bearer {key}", "content-type": BATCH_TYPE}

    async def client_sends(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        for count, body in bodies:  # the clients share the one generator
            sent = time.perf_counter()
            response = await client.post("/ingest", content=body, headers=headers)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise RuntimeError(f"/ingest answered {response.status_code}: {response.text}")
            answer = response.json()
            if answer["accepted"] != count:
                wrong = [r for r in answer["results"] if r.get("status") != "accepted"][:3]
                raise RuntimeError(f"{answer['accepted']} of {count} accepted: {wrong}")
            accepted += count

    limits = httpx.Limits(max_connections=INGEST_CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(client_sends(client) for _ in range(INGEST_CLIENTS)))
        return Ingested(accepted, time.perf_counter() - began, latencies)


async def ingest_and_apply(
    progress: Progress,
    history: History,
    sizes: ImpactSizes,
    events_url: str,
    key: str,
    *,
    baseline: int,
) -> tuple[Ingested, CatchUp]:
    """Ingest while following the projection; returns once it has applied every event."""
    began = time.perf_counter()
    sending = asyncio.create_task(ingest(events_url, key, history, sizes))
    # generous: a projection slower than 25 events/s is a finding the timeout reports
    timeout_s = max(180.0, len(history.facts) / 25)
    following = asyncio.create_task(
        caught_up(progress, began, lambda: not sending.done(), timeout_s, baseline=baseline)
    )
    try:
        ingested = await sending
        return ingested, await following
    finally:
        following.cancel()


def _ingest_rows(
    ingested: Ingested, catch_up: CatchUp, cpu: dict[str, float], events: int
) -> list[dict[str, Any]]:
    behind = next((c for t, c in catch_up.samples if t >= ingested.seconds), catch_up.records)
    p50, p95 = (percentile(ingested.latencies, q) * 1000 for q in (50, 95))
    cpu_ms = {name: share / 100 * catch_up.seconds * 1000 / events for name, share in cpu.items()}
    return [
        row("ingested (POST /ingest, batches)", round(ingested.accepted / ingested.seconds),
            f"events/s ({ingested.accepted:,} in {ingested.seconds:.1f} s, {INGEST_CLIENTS} "
            "clients)"),
        row("batch latency p50 / p95", f"{p50:.0f} / {p95:.0f}", "ms"),
        row("projected (first ingest to all applied)", round(catch_up.per_s),
            f"events/s ({catch_up.records:,} records in {catch_up.seconds:.1f} s)"),
        row("projection, 10-90 % of its records", round(catch_up.steady_per_s or 0), "events/s"),
        row("applied when the last batch was accepted", f"{behind:,} of {catch_up.records:,}",
            f"caught up {max(catch_up.seconds - ingested.seconds, 0):.1f} s later"),
        row("CPU while ingesting and projecting",
            ", ".join(f"{n} {s:.0f} %" for n, s in cpu.items()), "of one core"),
        row("CPU per event: events service / impact / MongoDB-protocol server",
            " / ".join(f"{cpu_ms.get(n, 0):.2f}" for n in ("events", "impact", "mongodb")), "ms"),
    ]  # fmt: skip
