"""Each consuming service's projection, live and in replay, one and two replicas, and its memory.

Every service runs as its own process (`copctl.devstack.stack.start_services`, on free ports,
under the names `bench-<service>` and `bench-r2-<service>`) with its own topic prefix, consumer
groups and database, so it never joins a live `cop-*` group. Spans are not exported
(`COP_TRACE_FILE` empty) and logs are at WARNING. For each service, in its own namespace:

1. it starts on empty topics; its resident size once `/readyz` answers is the idle figure;
2. live: the first `live` events of the mixed history are produced at full speed while it runs;
   the time is from the first send until every group of the service has committed the end of
   every partition it reads (seen twice, half a second apart), records being what its projection
   group read (recognition's own judgements, badges and alerts included);
3. it stops, the rest of the history is produced, and `copctl replay <service>` (the operator's
   own command: group rewound, projection dropped) prepares a replay; it starts again and the time
   is from the process's start until the same condition holds, so start-up is included. The
   steady rate over the 10-90 % stretch of committed offsets is given beside it;
4. scale-out: the same replay with two processes in one group.

The judge's group (recognition) is not rewound by a replay, as in `copctl replay`.
"""

import asyncio
import contextlib
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from bench.harness import BenchInfra, drop_databases
from bench.mixed_events import produce
from bench.report import figure, gather_rss, row
from bench.service_processes import UNLIMITED_RATES
from bench.targets import TARGETS
from copctl.devstack.processes import running, stop
from copctl.devstack.stack import Infra, ServiceSpec, start_services, start_sinks
from copctl.replay import ReplayRefused, replay
from services.events import rebuild as events_rebuild
from services.events.settings import EventsSettings
from services.knowledge import rebuild as knowledge_rebuild
from services.knowledge.settings import KnowledgeSettings
from services.notifier import rebuild as notifier_rebuild
from services.notifier.adapters.deliveries import OPEN
from services.notifier.settings import NotifierSettings
from services.recognition import rebuild as recognition_rebuild
from services.recognition.settings import RecognitionSettings
from shared.events.codec import KafkaRecord
from shared.kafka import ensure_topics
from shared.settings import ServiceSettings

CONFIRM_S = 0.5
POLL_S = 0.2
REPLICA_PREFIXES = ("bench-", "bench-r2-")


@dataclass(frozen=True)
class Consumer:
    """A consuming service: its settings, and per consumer group (by suffix) the topics read."""

    name: str
    settings_cls: type[ServiceSettings]
    groups: dict[str, tuple[str, ...]]


CONSUMERS: dict[str, Consumer] = {
    "events": Consumer("events", EventsSettings, {"": tuple(events_rebuild.TOPICS)}),
    "knowledge": Consumer("knowledge", KnowledgeSettings, {"": tuple(knowledge_rebuild.TOPICS)}),
    "recognition": Consumer(
        "recognition",
        RecognitionSettings,
        {
            "": tuple(recognition_rebuild.TOPICS),
            "-judge": tuple(recognition_rebuild.JUDGE_TOPICS),
        },
    ),
    "notifier": Consumer("notifier", NotifierSettings, {"": tuple(notifier_rebuild.TOPICS)}),
}


@dataclass(frozen=True)
class Snapshot:
    behind: int  # over every group of the service
    committed: int  # the projection group's
    ends: int  # of the projection group's partitions


class Progress:
    """Committed and end offsets of a service's groups, read without joining them."""

    def __init__(self, bootstrap: str, groups: dict[str, list[str]], main: str) -> None:
        self._bootstrap, self._groups, self._main = bootstrap, groups, main
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> "Progress":
        await self._admin.start()
        await self._consumer.start()
        for group, topics in self._groups.items():
            described = await self._admin.describe_topics(topics)
            self._partitions[group] = [
                TopicPartition(t["topic"], p["partition"])
                for t in described
                for p in t["partitions"]
            ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def snapshot(self) -> Snapshot:
        every = sorted({tp for tps in self._partitions.values() for tp in tps})
        ends = await self._consumer.end_offsets(every)
        behind = committed_main = ends_main = 0
        for group, partitions in self._partitions.items():
            offsets = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
            for tp in partitions:
                done = offsets.get(tp)
                at = done.offset if done is not None and done.offset >= 0 else 0
                behind += max(ends[tp] - at, 0)
                if group == self._main:
                    committed_main += min(at, ends[tp])
                    ends_main += ends[tp]
        return Snapshot(behind, committed_main, ends_main)


@dataclass
class CatchUp:
    seconds: float
    records: int
    steady_per_s: float | None
    samples: list[tuple[float, int]] = field(default_factory=list)
    complete: bool = True  # False: the budget ran out first; records are those committed by then

    @property
    def per_s(self) -> float:
        return self.records / self.seconds


def _steady(samples: Sequence[tuple[float, int]], total: int) -> float | None:
    """Records/s between the first samples at 10 % and at 90 % of the total."""
    low = next(((t, c) for t, c in samples if c >= 0.1 * total), None)
    high = next(((t, c) for t, c in samples if c >= 0.9 * total), None)
    if low is None or high is None or high[0] <= low[0]:
        return None
    return (high[1] - low[1]) / (high[0] - low[0])


async def caught_up(
    progress: Progress,
    began: float,
    busy: Callable[[], bool],
    timeout_s: float,
    baseline: int = 0,
    budget_s: float | None = None,
) -> CatchUp:
    """Poll until nothing is behind (confirmed) and `busy()` is over; times from `began`.
    With a budget, what was committed when it ran out is returned instead of waiting on."""
    samples: list[tuple[float, int]] = []
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        snap = await progress.snapshot()
        at = time.perf_counter() - began
        samples.append((at, snap.committed - baseline))
        if budget_s is not None and at > budget_s and not busy():
            return CatchUp(at, snap.committed - baseline, None, samples, complete=False)
        if snap.behind == 0 and snap.ends > baseline and not busy():
            await asyncio.sleep(CONFIRM_S)
            again = await progress.snapshot()
            if again.behind == 0 and again.ends == snap.ends:
                total = snap.ends - baseline
                return CatchUp(at, total, _steady(samples, total), samples)
            continue
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"not caught up in {timeout_s:.0f}s: {samples[-1] if samples else ''}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcesses:
    """One service of the bench, as one or two processes sharing its settings."""

    def __init__(
        self,
        infra: BenchInfra,
        consumer: Consumer,
        settings: ServiceSettings,
        extra: dict[str, str],
    ) -> None:
        self.infra, self.consumer, self.settings, self.extra = infra, consumer, settings, extra
        self.replicas = 0
        self.urls: list[str] = []

    def env(self, spec: ServiceSpec) -> dict[str, str]:
        s = self.settings
        return {
            "KAFKA_TOPIC_PREFIX": s.kafka_topic_prefix,
            "KAFKA_CONSUMER_GROUP": s.kafka_consumer_group,
            "MONGODB_DATABASE": s.mongodb_database,
            "KAFKA_TOPIC_PARTITIONS": str(s.kafka_topic_partitions),
            "COP_TRACE_FILE": "",
            "LOG_LEVEL": os.environ.get("BENCH_SERVICE_LOG_LEVEL", "WARNING"),
            **self.extra,
        }

    def names(self) -> list[str]:
        return [f"{p}{self.consumer.name}" for p in REPLICA_PREFIXES[: max(self.replicas, 2)]]

    def start(self, replicas: int = 1) -> None:
        """Start and wait for `/readyz` (blocking: run it in a thread)."""
        for name in self.names():
            stop(name)
        self.replicas = replicas
        infra = Infra(
            self.infra.kafka_bootstrap_servers, self.infra.mongodb_uri, self.infra.redis_url
        )
        specs = [ServiceSpec(self.consumer.name, _free_port()) for _ in range(replicas)]
        # started side by side, so that two replicas join the group together
        with ThreadPoolExecutor(replicas) as pool:
            waits = [
                pool.submit(
                    start_services,
                    infra,
                    specs=(spec,),
                    env_for=self.env,
                    prefix=prefix,
                    timeout_s=120,
                )
                for spec, prefix in zip(specs, REPLICA_PREFIXES, strict=False)
            ]
            self.urls = [url for wait in waits for url in wait.result().values()]

    def pids(self) -> dict[str, int]:
        found = {}
        for name in self.names():
            proc = running(name)
            if proc is not None:
                found[name] = proc.pid
        return found

    def stop(self) -> None:
        for name in self.names():
            stop(name)


async def _rss(processes: ServiceProcesses) -> float:
    values = list((await gather_rss(processes.pids())).values())
    return round(statistics.mean(values), 1) if values else float("nan")


async def _replay(settings: ServiceSettings, service: str) -> None:
    """`copctl replay`, waiting for the stopped consumers to have left the group."""
    for _ in range(60):
        try:
            await replay(service, settings)
            return
        except ReplayRefused:
            await asyncio.sleep(0.5)
    await replay(service, settings)


async def _start_and_catch_up(
    processes: ServiceProcesses, progress: Progress, replicas: int, timeout_s: float
) -> tuple[CatchUp, float, dict[str, float]]:
    """Start the replicas and time them from their start until caught up; also how long until
    they answered `/readyz`, and the CPU seconds each process used from then until caught up
    (the service's replicas together, and the MongoDB-protocol server and broker when they run
    here): a measure of the work that a busy machine does not distort the way it does time."""
    began = time.perf_counter()
    ready: list[float] = []
    meter: list[CpuSeconds] = []

    def start() -> None:
        processes.start(replicas)
        ready.append(time.perf_counter() - began)
        meter.append(CpuSeconds({"service": list(processes.pids().values()), **infra_pids()}))

    starting = asyncio.create_task(asyncio.to_thread(start))
    try:
        done = await caught_up(progress, began, lambda: not starting.done(), timeout_s)
    finally:
        await starting
    return done, ready[0], meter[0].used()


def infra_pids() -> dict[str, list[int]]:
    """The local stack's MongoDB-protocol server and broker, when this machine runs them."""
    found = {}
    for name in ("mongodb", "kafka"):
        proc = running(name)
        if proc is not None:
            found[name] = [proc.pid]
    return found


class CpuSeconds:
    """CPU seconds (user + system) used by groups of processes since this was made."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self._procs = {
            name: [p for pid in group if (p := _process(pid)) is not None]
            for name, group in pids.items()
        }
        self._began = self._now()

    def _now(self) -> dict[str, float]:
        used = {}
        for name, procs in self._procs.items():
            total = 0.0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    total += times.user + times.system
            used[name] = total
        return used

    def used(self) -> dict[str, float]:
        now = self._now()
        return {name: round(now[name] - self._began[name], 2) for name in now}


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


@contextlib.contextmanager
def _notifier_sinks() -> Iterator[dict[str, str]]:
    """SMTP and chat sinks of the bench's own, on free ports, writing to a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        smtp, chat, prefix = _free_port(), _free_port(), "bench-"
        start_sinks(
            smtp_port=smtp,
            chat_port=chat,
            prefix=prefix,
            mail=Path(tmp) / "mail",
            chat=Path(tmp) / "chat",
        )
        try:
            yield {
                "SMTP_PORT": str(smtp),
                "CHAT_WEBHOOK_URL": f"http://127.0.0.1:{chat}/hooks/cop",
                # The live run's deliveries are sent before the replay is timed, not held
                # back by a rate during it.
                **UNLIMITED_RATES,
            }
        finally:
            for name in ("smtp-sink", "chat-sink"):
                stop(f"{prefix}{name}")


@dataclass
class ServicePlan:
    name: str
    records: Sequence[KafkaRecord]
    live: int
    repeats: int
    scale_out: bool
    live_budget_s: float | None = None


async def bench_service(infra: BenchInfra, plan: ServicePlan) -> dict[str, Any]:
    consumer = CONSUMERS[plan.name]
    namespace = infra.namespace()
    settings = infra.settings(consumer.settings_cls, namespace)
    prefix = settings.kafka_topic_prefix
    bootstrap = infra.kafka_bootstrap_servers
    await ensure_topics(bootstrap, partitions=settings.kafka_topic_partitions, topic_prefix=prefix)
    group = settings.kafka_consumer_group
    groups = {
        group + suffix: [prefix + t for t in topics] for suffix, topics in consumer.groups.items()
    }
    timeout = max(300.0, len(plan.records) / 50)
    result: dict[str, Any] = {"namespace": namespace, "group": group}
    with contextlib.ExitStack() as stack:
        extra = stack.enter_context(_notifier_sinks()) if plan.name == "notifier" else {}
        processes = ServiceProcesses(infra, consumer, settings, extra)
        stack.callback(processes.stop)
        async with Progress(bootstrap, groups, group) as progress:
            began = time.perf_counter()
            await asyncio.to_thread(processes.start, 1)
            result["startup_s"] = time.perf_counter() - began
            await asyncio.sleep(1.0)
            result["idle_mb"] = await _rss(processes)

            live = plan.records[: plan.live]
            began = time.perf_counter()
            producing = asyncio.create_task(produce(bootstrap, prefix, live))
            try:
                result["live"] = await caught_up(
                    progress,
                    began,
                    lambda: not producing.done(),
                    timeout,
                    budget_s=plan.live_budget_s,
                )
            finally:
                result["live_produce_s"] = await producing
            result["after_live_mb"] = await _rss(processes)
            if plan.name == "notifier":
                result["live_drained_s"] = await _deliveries_sent(settings, timeout)
            processes.stop()
            if len(plan.records) > plan.live:
                await produce(bootstrap, prefix, plan.records[plan.live :])

            replays: list[CatchUp] = []
            for run in range(plan.repeats):
                await _replay(settings, plan.name)
                done, ready_s, cpu = await _start_and_catch_up(processes, progress, 1, timeout)
                replays.append(done)
                result.setdefault("replay_ready_s", []).append(ready_s)
                result.setdefault("replay_cpu_s", []).append(cpu)
                if run == 0:
                    result["after_replay_mb"] = await _rss(processes)
                processes.stop()
            result["replay"] = replays

            if plan.scale_out:
                await _replay(settings, plan.name)
                done, _, _ = await _start_and_catch_up(processes, progress, 2, timeout)
                result["scale_out"] = done
                result["after_scale_out_mb"] = await _rss(processes)
                processes.stop()
    await drop_databases(infra, [settings.mongodb_database])
    return result


async def _deliveries_sent(settings: ServiceSettings, timeout_s: float) -> float:
    """Seconds until the notifier has settled every delivery due by now (the live run's), so
    that its replay is timed on replaying alone and not on sending a backlog as well."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    records = client[settings.mongodb_database]["deliveries"]
    began = time.perf_counter()
    try:
        while time.perf_counter() - began < timeout_s:
            due = {"state": {"$in": sorted(OPEN)}, "due_at": {"$lte": datetime.now(UTC)}}
            if await records.count_documents(due, limit=1) == 0:
                break
            await asyncio.sleep(0.5)
    finally:
        await client.close()
    return time.perf_counter() - began


def _why_replay_is_slower(name: str, raw_per_s: float, cpu_ms: dict[str, float]) -> str:
    """The measured reason: the CPU an event costs against the time reading one takes."""
    budget_ms = 1000 / (raw_per_s / 2)
    if "service" not in cpu_ms:
        return "projection work per event costs far more than reading a record"
    parts = [f"{name} itself {cpu_ms['service']:.2f} ms"]
    parts += [f"the {w} server {cpu_ms[w]:.2f} ms" for w in ("mongodb", "kafka") if w in cpu_ms]
    return (
        f"an event costs {', '.join(parts)} of CPU (decoding and validating it, its handler, "
        f"its share of the batch's MongoDB writes and spans); half the raw consume rate leaves "
        f"{budget_ms * 1000:.0f} µs an event, on one core for one service"
    )


async def bench_projections(
    infra: BenchInfra,
    plans: Sequence[ServicePlan],
    *,
    raw_consume_per_s: float | None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    rss: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    replay_per_s: dict[str, float] = {}
    namespaces: dict[str, str] = {}
    for plan in plans:
        began = time.perf_counter()
        try:
            r = await bench_service(infra, plan)
        except Exception as e:
            log(f"{plan.name}: failed: {type(e).__name__}: {e}")
            notes.append(f"{plan.name}: failed ({type(e).__name__}: {e})")
            continue
        namespaces[plan.name] = r["namespace"]
        live: CatchUp = r["live"]
        replays: list[CatchUp] = r["replay"]
        # The throughput compared with the limit and the baseline: the 10-90 % stretch, once
        # the process has started and joined its group (reported on its own row)
        steady_rates = [c.steady_per_s for c in replays if c.steady_per_s]
        rate = statistics.median(steady_rates or [c.per_s for c in replays])
        replay_per_s[plan.name] = rate
        name = plan.name
        rows += [
            row(f"{name}: first start-up to /readyz", round(r["startup_s"], 1), "s"),
            row(f"{name}: live, records its groups read", live.records),
            row(
                f"{name}: live, events/s (first send to caught up)"
                if live.complete
                else f"{name}: live, events/s (committed in the {live.seconds:.0f} s budget; "
                f"{plan.live:,} produced)",
                round(live.per_s),
                "events/s",
            ),
            *(
                [
                    row(
                        f"{name}: live run's deliveries all sent, s after caught up",
                        round(r["live_drained_s"], 1),
                        "s",
                    )
                ]
                if "live_drained_s" in r
                else []
            ),
            row(f"{name}: replay, records", replays[0].records),
            row(f"{name}: replay, start-up to /readyz", round(min(r["replay_ready_s"]), 1), "s"),
            figure(
                f"{name}: replay events/s (process start to caught up)",
                [c.per_s for c in replays],
                "events/s",
            ),
        ]
        records = replays[0].records
        cpu_ms: dict[str, float] = {}
        for who in ("service", "mongodb", "kafka"):
            spent = [c[who] for c in r["replay_cpu_s"] if who in c]
            if spent and records:
                what = name if who == "service" else f"{who} server"
                per_event = [s * 1000 / records for s in spent]
                cpu_ms[who] = statistics.median(per_event)
                rows.append(
                    figure(
                        f"{name}: replay, CPU of the {what} per event (from /readyz)",
                        per_event,
                        "ms",
                        digits=2,
                    )
                )
        if steady_rates:
            rows.append(
                figure(f"{name}: replay events/s, 10-90 % stretch", steady_rates, "events/s")
            )
        if raw_consume_per_s:
            ratio = rate / raw_consume_per_s
            rows.append(row(f"{name}: replay / raw consume", f"{ratio:.2%}"))
            goals.append(
                {
                    "goal": f"{name} replay ≥ 50% of raw consume",
                    "measured": f"{ratio:.2%} ({rate:,.0f} of {raw_consume_per_s:,.0f} events/s)",
                    "met": ratio >= 0.5,
                    "why": _why_replay_is_slower(name, raw_consume_per_s, cpu_ms)
                    if ratio < 0.5
                    else "",
                }
            )
        if (target := TARGETS.get(f"{name}_replay")) is not None:
            goals.append(
                target.judge(
                    rate,
                    detail=f"{records:,} events",
                    why=_why_replay_is_slower(name, raw_consume_per_s, cpu_ms)
                    if raw_consume_per_s
                    else "",
                )
            )
        if "scale_out" in r:
            two: CatchUp = r["scale_out"]
            rows += [
                row(f"{name}: replay with 2 replicas, events/s", round(two.per_s)),
                row(f"{name}: scale-out speed-up (2 vs 1 replica)", f"{two.per_s / rate:.2f}x"),
            ]
        rss[name] = {
            "idle_mb": r["idle_mb"],
            "after_mb": r["after_replay_mb"],
            "after_live_mb": r["after_live_mb"],
        }
        goals.append(
            {
                "goal": f"{name} idle RSS ≤ 120 MB",
                "measured": f"{r['idle_mb']} MB",
                "met": r["idle_mb"] <= 120,
                "why": "" if r["idle_mb"] <= 120 else "see the memory table",
            }
        )
        log(f"{name}: replay {rate:,.0f} events/s; took {time.perf_counter() - began:.0f}s")
    notes.append(
        "Replay times run from the process's start (imports, connections, group join included) "
        "until every group of the service has committed the end of every partition it reads."
    )
    return {
        "rows": rows,
        "goals": goals,
        "rss": rss,
        "notes": notes,
        "replay_per_s": replay_per_s,
        "namespaces": namespaces,
    }
