"""End-to-end kudos latency: `POST /kudos` to the chat post received by the webhook sink.

    python -m bench.e2e_latency [--quick] [--repeats 3] [--profile DIR]

Recognition and the notifier run as processes (`copctl.devstack.stack.start_services`) on ports
18181 and 18182, each with its own topic prefix, consumer groups and database; the chat and SMTP
sink (`bench.sink_server`) is a process of its own. Eight communities have a signed webhook
channel on the sink, and 200 recipients have an e-mail address, so each kudos is judged, counted,
e-mailed and posted, as in the README's walkthrough.

Kudos are sent open loop: the i-th at t0 + i / rate whether or not earlier ones were answered, by
rotating givers that each stay within the allowance. A kudos' latency is the time its post
reached the sink minus the time it was due to be sent (so a slow answer cannot hide a queue), and
one still missing when the drain ends counts as infinitely late. Each rate runs `window_s`
seconds, cut into `repeats` consecutive parts whose percentiles give the median reported. A rate
is held when the backlog (answered 202 but not yet posted) does not grow over the second half of
its window, nothing failed and everything arrived; the highest held rate is searched by bisection
between the highest held and the lowest failed rate (or upward when every rate held).

CPU use of every process involved (the services, the sink, this driver, Kafka, MongoDB, Redis)
is read during each window, and with `--profile` the services run under pyinstrument, which
writes where their time went.
"""

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from bench.harness import BenchInfra, provide_infra
from bench.sink_server import Sink, now, running_sink
from copctl.devstack.paths import REPO_ROOT
from copctl.devstack.processes import running, start, stop, wait_until
from copctl.devstack.stack import Infra as StackInfra
from copctl.devstack.stack import ServiceSpec, start_services
from services.notifier import rebuild as notifier_topics
from services.notifier.settings import NotifierSettings
from services.recognition import rebuild as recognition_topics
from services.recognition.settings import RecognitionSettings
from shared.auth import issue_token
from shared.events.catalog import MemberProfileUpdated
from shared.events.codec import encode
from shared.events.envelope import CloudEvent, new_event
from shared.lag import GroupLag
from shared.settings import ServiceSettings

OUT = Path(__file__).resolve().parent.parent / "bench-results"
RECOGNITION_PORT, NOTIFIER_PORT = 18181, 18182
COMMUNITIES = 8
RECIPIENTS = 200
GIVERS = 1_000
VALUE_TAG = "mentoring"
GOAL_RATE, GOAL_P99_MS = 200, 100.0
INFRA_PROCESSES = ("kafka", "mongodb", "redis")


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...]
    window_s: float
    search_window_s: float
    search_steps: int
    drain_s: float
    budget_s: float  # search steps are left out rather than run past it

    @classmethod
    def of(cls, quick: bool) -> "Plan":
        if quick:
            return cls((50, 200), 8.0, 5.0, 1, 5.0, 40.0)
        return cls((50, 200, 500), 60.0, 15.0, 3, 20.0, 300.0)


# --- processes: the services under test, their memory, CPU and profiles ------------------------


@dataclass
class Services:
    """Service processes started for one benchmark, by service name."""

    names: dict[str, str]
    urls: dict[str, str]
    profiles: dict[str, Path] = field(default_factory=dict)

    def pid(self, service: str) -> int | None:
        proc = running(self.names[service])
        return proc.pid if proc else None

    def start_profiling(self) -> None:
        for service in self.profiles:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(self.pid(service), signal.SIGUSR2)  # type: ignore[arg-type]

    async def save_profiles(self, timeout_s: float = 60.0) -> None:
        for service in self.profiles:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(self.pid(service), signal.SIGUSR1)  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(p.exists() for p in self.profiles.values()):
                return
            await asyncio.sleep(0.2)

    def rss_mb(self) -> dict[str, float]:
        found = {}
        for service in self.names:
            pid = self.pid(service)
            with contextlib.suppress(psutil.Error, TypeError):
                found[service] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
        return found


def service_env(settings: ServiceSettings, **extra: str) -> dict[str, str]:
    """The variables that keep a service in the benchmark's namespace. Spans are still made
    (the instrumentation stays on) but not written to a file: the local trace file is written
    span by span, which a deployment's batching exporter does not do."""
    return {
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "KAFKA_CONSUMER_GROUP": settings.kafka_consumer_group,
        "MONGODB_DATABASE": settings.mongodb_database,
        "COP_TRACE_FILE": "",
        **extra,
    }


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


# Runs a service module under pyinstrument: SIGUSR2 starts sampling, SIGUSR1 stops it and saves
# the session. Only the loaded part is profiled, and the profile does not depend on the service
# shutting down cleanly.
_PROFILED = """
import os, runpy, signal, sys
from pyinstrument import Profiler
out, module = sys.argv[1], sys.argv[2]
profiler = Profiler(interval=0.005, async_mode="disabled")
def begin(*_):
    if not profiler.is_running:
        profiler.start()
def save(*_):
    if profiler.is_running:
        session = profiler.stop()
        session.save(out + ".part")
        os.replace(out + ".part", out)
signal.signal(signal.SIGUSR2, begin)
signal.signal(signal.SIGUSR1, save)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _start_profiled(
    stack: StackInfra,
    specs: Sequence[ServiceSpec],
    env_for: Callable[[ServiceSpec], dict[str, str]],
    prefix: str,
    profile_dir: Path,
) -> tuple[dict[str, str], dict[str, Path]]:
    """As `start_services`, but each under the profiler above."""
    profile_dir.mkdir(parents=True, exist_ok=True)
    urls, sessions, procs = {}, {}, []
    for spec in specs:
        sessions[spec.name] = profile_dir / f"{spec.name}.pyisession"
        sessions[spec.name].unlink(missing_ok=True)
        argv = [sys.executable, "-c", _PROFILED, str(sessions[spec.name]), spec.module]
        env = {**stack.env(), "HTTP_PORT": str(spec.port), **env_for(spec)}
        procs.append((spec, start(f"{prefix}{spec.name}", argv, env=env, cwd=REPO_ROOT)))
    for spec, proc in procs:
        url = f"http://127.0.0.1:{spec.port}"
        wait_until(
            functools.partial(_ready, url), timeout_s=90, what=f"{spec.name} /readyz", process=proc
        )
        urls[spec.name] = url
    return urls, sessions


@contextlib.asynccontextmanager
async def running_services(
    infra: BenchInfra,
    specs: Sequence[ServiceSpec],
    env_for: Callable[[ServiceSpec], dict[str, str]],
    *,
    profile_dir: Path | None = None,
) -> AsyncIterator[Services]:
    """The services as processes, each in its own process name; all stopped on the way out."""
    prefix = f"bench-{uuid.uuid4().hex[:6]}-"
    stack = StackInfra(infra.kafka_bootstrap_servers, infra.mongodb_uri, infra.redis_url)
    services = Services({s.name: f"{prefix}{s.name}" for s in specs}, {})
    try:
        if profile_dir is None:
            services.urls = await asyncio.to_thread(
                start_services, stack, specs=tuple(specs), env_for=env_for, prefix=prefix
            )
        else:
            services.urls, services.profiles = await asyncio.to_thread(
                _start_profiled, stack, specs, env_for, prefix, profile_dir
            )
        yield services
    finally:
        timeout_s = 20.0
        await asyncio.gather(
            *(asyncio.to_thread(stop, name, timeout_s) for name in services.names.values())
        )


class CpuMeter:
    """CPU time of the processes involved, between `start()` and `read()`, in % of one core."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self._procs = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error, TypeError, ValueError):
                self._procs[name] = psutil.Process(pid)
        self._began: dict[str, float] = {}
        self._at = 0.0

    @staticmethod
    def _used(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def start(self) -> None:
        self._at = time.monotonic()
        self._began = {}
        for name, proc in self._procs.items():
            with contextlib.suppress(psutil.Error):
                self._began[name] = self._used(proc)

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._at, 1e-9)
        shares = {}
        for name, proc in self._procs.items():
            with contextlib.suppress(psutil.Error, KeyError):
                shares[name] = round((self._used(proc) - self._began[name]) / wall * 100, 1)
        return shares


def involved_pids(services: Services, sink: Sink) -> dict[str, int | None]:
    pids: dict[str, int | None] = {s: services.pid(s) for s in services.names}
    proc = running(sink.name)
    pids["sink"] = proc.pid if proc else None
    pids["driver"] = os.getpid()
    for name in INFRA_PROCESSES:
        infra_proc = running(name)
        pids[name] = infra_proc.pid if infra_proc else None
    return pids


def profile_summary(session_path: Path, top: int = 12) -> dict[str, Any]:
    """Where a profiled service's time went: the functions with the most time of their own, the
    project's functions by inclusive time, and the share of time spent waiting for I/O."""
    from pyinstrument.session import Session

    if not session_path.exists():
        return {"error": f"no profile written at {session_path}"}
    session = Session.load(str(session_path))
    root = session.root_frame(trim_stem=False)
    if root is None:
        return {"error": "empty profile"}
    total = root.time or 1e-9
    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}

    def label(frame: Any) -> str:
        path = str(frame.file_path_short or frame.file_path or "")
        return f"{frame.function} ({path}:{frame.line_no})"

    def walk(frame: Any, above: frozenset[str]) -> None:
        name = label(frame)
        real = [c for c in frame.children if not str(c.function).startswith("[")]
        own[name] = own.get(name, 0.0) + max(frame.time - sum(c.time for c in real), 0.0)
        path = str(frame.file_path or "")
        project = f"{REPO_ROOT}/services/" in path or f"{REPO_ROOT}/shared/" in path
        if project and name not in above:
            inclusive[name] = inclusive.get(name, 0.0) + frame.time
        for child in real:
            walk(child, above | {name})

    walk(root, frozenset())
    idle = sum(
        t for name, t in own.items() if name.startswith(("select (", "poll (", "epoll.poll ("))
    )
    # The entry point and the server loop hold everything: not worth a line.
    inclusive = {k: v for k, v in inclusive.items() if v < 0.9 * total}
    ranked_own = sorted(own.items(), key=lambda kv: kv[1], reverse=True)
    ranked_incl = sorted(inclusive.items(), key=lambda kv: kv[1], reverse=True)
    return {
        "sampled_s": round(total, 1),
        "idle_share": round(idle / total, 3),
        "top_self": [
            {"function": k, "share": round(v / total, 3)} for k, v in ranked_own[:top] if v > 0
        ],
        "top_project_inclusive": [
            {"function": k, "share": round(v / total, 3)} for k, v in ranked_incl[:top]
        ],
    }


async def drop_namespace(infra: BenchInfra, namespace: str, databases: Sequence[str]) -> None:
    """Remove one benchmark's topics, databases and Redis keys (the harness removes the rest)."""
    with contextlib.suppress(Exception):
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
        await admin.start()
        try:
            doomed = [t for t in await admin.list_topics() if t.startswith(f"{namespace}.")]
            if doomed:
                await admin.delete_topics(doomed)
        finally:
            await admin.close()
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        for name in databases:
            with contextlib.suppress(Exception):
                await client.drop_database(name)
    finally:
        await client.close()
    redis = Redis.from_url(infra.redis_url)
    try:
        with contextlib.suppress(Exception):
            async for key in redis.scan_iter(match=f"{namespace}_*", count=1000):
                await redis.delete(key)
    finally:
        await redis.aclose()


async def produce(infra: BenchInfra, prefix: str, events: Sequence[CloudEvent]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap_servers, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        for event in events:
            record = encode(event)
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            await producer.send(
                prefix + record.topic, record.value, key=record.key, headers=headers
            )
        await producer.flush()
    finally:
        await producer.stop()


async def wait_for_profiles(
    client: httpx.AsyncClient, notifier_url: str, members: Sequence[str], timeout_s: float = 60
) -> None:
    pending = list(members)
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the notifier does not know {len(pending)} profiles yet")
        got = await client.get(f"{notifier_url}/profiles/{pending[-1]}")
        if got.status_code == 200:
            pending.pop()
        else:
            await asyncio.sleep(0.1)


def recipient_profiles(members: Sequence[str]) -> list[CloudEvent]:
    return [
        new_event(
            MemberProfileUpdated(member_id=m, name=f"Member {m}", email=f"{m}@example.com"),
            source="bench",
        )
        for m in members
    ]


# --- the load: POST /kudos over kept-alive connections, open loop -------------------------------


class RawHttp:
    """HTTP/1.1 over a pool of kept-alive connections, with far less client CPU than a full
    client: on two shared cores the load generator must not be what is measured."""

    def __init__(self, host: str, port: int, connections: int = 128) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: bytes, headers: str) -> int:
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n{headers}"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        async with self._slots:
            for attempt in range(2):
                # A kept connection may have been closed by the server meanwhile (its keep-alive
                # timeout); the second attempt always opens a fresh one.
                reused = bool(self._idle) and attempt == 0
                if reused:
                    reader, writer = self._idle.pop()
                else:
                    reader, writer = await asyncio.open_connection(self._host, self._port)
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    if reused and attempt == 0:
                        continue  # the server closed an idle connection: not sent, send again
                    raise
                status, length, close = _response_head(head)
                if length:
                    await reader.readexactly(length)
                if close:
                    writer.close()
                else:
                    self._idle.append((reader, writer))
                return status
        raise ConnectionError("unreachable")

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _response_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    return status, length, close


@dataclass
class Sent:
    seq: int
    due: float
    sent: float = math.nan
    answered: float = math.nan
    status: int = 0


@dataclass
class Window:
    rate: float
    planned_s: float
    sent: list[Sent]
    posted: dict[int, float]
    backlog: list[tuple[float, int]]
    lags: list[tuple[float, dict[str, int]]]
    cpu: dict[str, float]
    aborted_after_s: float | None
    drained: bool
    drain_end: float

    @property
    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 202]

    def statuses(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for s in self.sent:
            found[s.status] = found.get(s.status, 0) + 1
        return found

    def latencies_ms(self, sent: Sequence[Sent] | None = None) -> list[float]:
        """Post time minus due time, per accepted kudos; `inf` for one never posted."""
        out = []
        for s in sent if sent is not None else self.accepted:
            if s.status != 202:
                continue
            t = self.posted.get(s.seq)
            out.append((t - s.due) * 1000 if t is not None else math.inf)
        return out

    def missing(self) -> int:
        return sum(1 for s in self.accepted if s.seq not in self.posted)

    def at_least_ms(self, q: float) -> float:
        """A lower bound of the percentile when some kudos never arrived: those count as
        arriving when the drain ended."""
        bound = [((self.posted.get(s.seq) or self.drain_end) - s.due) * 1000 for s in self.accepted]
        return percentile(bound, q)

    def growth_per_s(self) -> float:
        """Slope of the backlog over the second half of the window (least squares)."""
        if len(self.backlog) < 2:
            return 0.0
        t_start, t_end = self.backlog[0][0], self.backlog[-1][0]
        half = [(t, b) for t, b in self.backlog if t >= (t_start + t_end) / 2]
        if len(half) < 3:
            return 0.0
        ts, bs = [t for t, _ in half], [float(b) for _, b in half]
        mt, mb = statistics.fmean(ts), statistics.fmean(bs)
        den = sum((t - mt) ** 2 for t in ts)
        return sum((t - mt) * (b - mb) for t, b in zip(ts, bs, strict=True)) / den if den else 0.0

    def growth_limit(self) -> float:
        return max(2.0, 0.03 * self.rate)

    def verdict(self) -> tuple[bool, str]:
        failed = len(self.sent) - len(self.accepted)
        if self.aborted_after_s is not None:
            return False, f"backlog ran away, stopped after {self.aborted_after_s:.0f} s"
        if failed > 0.01 * max(len(self.sent), 1):
            return False, f"{failed} of {len(self.sent)} requests not accepted {self.statuses()}"
        if not self.drained:
            return False, f"{self.missing()} kudos not posted by the end of the drain"
        growth = self.growth_per_s()
        if growth > self.growth_limit():
            return False, f"backlog grew {growth:.0f}/s over the second half"
        return True, f"backlog growth {growth:.1f}/s"


async def _posts_of_window(
    watch: "Watch", posts_before: int, first_seq: int, n: int
) -> dict[int, float]:
    """When each kudos of this rate (sequence numbers `first_seq` to `first_seq + n - 1`) was
    posted: late posts of an earlier rate's backlog are not this rate's."""
    posted: dict[int, float] = {}
    for at, _, message in await watch.sink.posts(watch.client, posts_before):
        if isinstance(message, str) and message.startswith("bench kudos "):
            seq = int(message.rsplit(" ", 1)[1])
            if first_seq <= seq < first_seq + n:
                posted.setdefault(seq, at)
    return posted


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; `inf` when a neighbour is missing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    if math.isinf(ordered[high]):
        return math.inf
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median_of_parts(window: Window, parts: int, q: float) -> float:
    """The median, over `parts` consecutive slices of the window, of each slice's percentile."""
    accepted = window.accepted
    if parts <= 1 or len(accepted) < parts * 20:
        return percentile(window.latencies_ms(accepted), q)
    first = min(s.due for s in accepted)
    span = max(s.due for s in accepted) - first + 1e-9
    slices: list[list[Sent]] = [[] for _ in range(parts)]
    for s in accepted:
        slices[min(int((s.due - first) / span * parts), parts - 1)].append(s)
    return statistics.median(percentile(window.latencies_ms(part), q) for part in slices)


class KudosLoad:
    """Who gives whom kudos, and sending them."""

    def __init__(self, settings: RecognitionSettings, recognition_port: int) -> None:
        self.run = uuid.uuid4().hex[:6]
        self._secret = settings.auth_token_secret
        self._allowance = settings.kudos_allowance
        self._tokens: dict[str, str] = {}
        self._http = RawHttp("127.0.0.1", recognition_port)
        self.recipients = [f"br{i}-{self.run}" for i in range(RECIPIENTS)]
        self.next_seq = 0
        self.posted_index = 0

    def giver(self, seq: int) -> str:
        # Every giver gives exactly the allowance over GIVERS * allowance kudos, spread out.
        return f"bg{seq % GIVERS}-{self.run}-{seq // (GIVERS * self._allowance)}"

    def _token_header(self, giver: str) -> str:
        token = self._tokens.get(giver)
        if token is None:
            token = self._tokens[giver] = issue_token(self._secret, giver, ttl_s=3600)
        return f"authorization: Bearer {token}\r\n"

    async def send(self, item: Sent) -> None:
        seq = item.seq
        body = orjson.dumps(
            {
                "to_ids": [self.recipients[(seq * 7) % RECIPIENTS]],
                "community_id": f"c{seq % COMMUNITIES}",
                "message": f"bench kudos {seq}",
                "value_tag": VALUE_TAG,
            }
        )
        headers = self._token_header(self.giver(seq))
        item.sent = now()
        try:
            item.status = await self._http.post("/kudos", body, headers)
        except (OSError, asyncio.IncompleteReadError):
            item.status = -1
        item.answered = now()

    async def close(self) -> None:
        await self._http.close()


@dataclass
class Watch:
    sink: Sink
    lags: dict[str, GroupLag]
    cpu: CpuMeter
    client: httpx.AsyncClient


async def run_window(
    load: KudosLoad, watch: Watch, rate: float, duration_s: float, drain_s: float
) -> Window:
    """Kudos at `rate` for `duration_s`, open loop; then wait (at most `drain_s`) until all are
    posted. Stops sending early once the backlog is clearly running away."""
    n = max(int(rate * duration_s), 1)
    first_seq = load.next_seq
    load.next_seq += n
    posts_before, _ = await watch.sink.counts(watch.client)
    items = [Sent(first_seq + i, 0.0) for i in range(n)]
    tasks: list[asyncio.Task[None]] = []
    backlog: list[tuple[float, int]] = []
    lags: list[tuple[float, dict[str, int]]] = []
    runaway = max(100.0, rate * 3)
    aborted: list[float] = []
    done_sending = asyncio.Event()
    t0 = now() + 0.05
    for i, item in enumerate(items):
        item.due = t0 + i / rate

    async def monitor() -> None:
        tick = 0
        while not done_sending.is_set():
            await asyncio.sleep(0.5)
            posts, _ = await watch.sink.counts(watch.client)
            t = now()
            # Everything due by now and not posted: queued in the HTTP server, Kafka or the
            # notifier alike.
            due = min(int((t - t0) * rate) + 1, n)
            backlog.append((t, due - (posts - posts_before)))
            if backlog[-1][1] > runaway and t - t0 > 3:
                aborted.append(t - t0)
                done_sending.set()
            tick += 1
            if tick % 2 == 0:
                lags.append((t, {g: await lag.records_behind() for g, lag in watch.lags.items()}))

    watch.cpu.start()
    watcher = asyncio.create_task(monitor())
    try:
        for item in items:
            if done_sending.is_set():
                break
            delay = item.due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(load.send(item)))
    finally:
        done_sending.set()
        await watcher
    cpu = watch.cpu.read()
    await asyncio.gather(*tasks)
    sent = items[: len(tasks)]
    accepted = sum(1 for s in sent if s.status == 202)
    deadline = now() + drain_s
    wanted = {s.seq for s in sent if s.status == 202}
    drained = False
    while True:
        posts, _ = await watch.sink.counts(watch.client)
        # the count is cheap but may include late posts of an earlier rate: then check the posts
        if posts - posts_before >= accepted:
            posted = await _posts_of_window(watch, posts_before, first_seq, n)
            if wanted <= posted.keys():
                drained = True
                break
        if now() >= deadline:
            break
        await asyncio.sleep(0.1)
    drain_end = now()
    posted = await _posts_of_window(watch, posts_before, first_seq, n)
    return Window(
        rate=rate,
        planned_s=duration_s,
        sent=sent,
        posted=posted,
        backlog=backlog,
        lags=lags,
        cpu=cpu,
        aborted_after_s=aborted[0] if aborted else None,
        drained=drained,
        drain_end=drain_end,
    )


async def settle(watch: Watch, timeout_s: float) -> None:
    """After a failed window: let the backlog clear (no new post for a second) before the next
    window starts."""
    deadline = now() + timeout_s
    last, steady = -1, 0
    while now() < deadline:
        posts, _ = await watch.sink.counts(watch.client)
        steady = steady + 1 if posts == last else 0
        if steady >= 5:
            return
        last = posts
        await asyncio.sleep(0.2)


# --- the benchmark ------------------------------------------------------------------------------


def _latency(w: Window, parts: int, q: float) -> float | str:
    value = median_of_parts(w, parts, q)
    if math.isinf(value):
        return f"> {w.at_least_ms(q):.0f} ({w.missing()} never posted)"
    return round(value, 1)


def _cpu(shares: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))


def _window_rows(w: Window, parts: int, label: str) -> list[dict[str, Any]]:
    answered = [(s.answered - s.due) * 1000 for s in w.accepted]
    late = [(s.sent - s.due) * 1000 for s in w.sent if not math.isnan(s.sent)]
    held, why = w.verdict()
    rows: list[dict[str, Any]] = [
        {
            "metric": f"e2e latency at {label}, p{q}",
            "value": _latency(w, parts, q / 100),
            "unit": "ms",
        }
        for q in (50, 95, 99)
    ]
    rows += [
        {
            "metric": f"POST /kudos answered at {label}, p50 / p99",
            "value": f"{percentile(answered, 0.5):.1f} / {percentile(answered, 0.99):.1f}",
            "unit": "ms after the kudos was due",
        },
        {
            "metric": f"kudos sent / accepted / posted at {label}",
            "value": f"{len(w.sent)} / {len(w.accepted)} / {len(w.posted)}",
            "unit": "kudos",
        },
        {"metric": f"held at {label}", "value": "yes" if held else "no", "unit": why},
        {
            "metric": f"load generator lateness at {label}, p99",
            "value": round(percentile(late, 0.99), 1),
            "unit": "ms (sent after due; included in the latency)",
        },
        {"metric": f"CPU at {label}", "value": _cpu(w.cpu), "unit": "% of one core"},
    ]
    if w.lags:
        rows.append(
            {
                "metric": f"consumer lag at the end of {label}",
                "value": ", ".join(f"{g} {v}" for g, v in w.lags[-1][1].items()),
                "unit": "records",
            }
        )
    return rows


class Measurement:
    """The rates of the plan, then the search for the highest rate held, within a budget."""

    def __init__(self, load: KudosLoad, watch: Watch, plan: Plan) -> None:
        self.load, self.watch, self.plan = load, watch, plan
        self.deadline = now() + plan.budget_s
        self.windows: dict[float, Window] = {}
        self.steps: list[Window] = []
        self.highest = 0.0

    def _drain_s(self) -> float:
        return max(2.0, min(self.plan.drain_s, self.deadline - now()))

    async def _window(self, rate: float, duration_s: float) -> Window:
        w = await run_window(self.load, self.watch, rate, duration_s, self._drain_s())
        if not w.verdict()[0]:
            await settle(self.watch, self._drain_s())
        return w

    async def run(self) -> None:
        searched = False
        for rate in self.plan.rates:
            w = self.windows[rate] = await self._window(rate, self.plan.window_s)
            if not w.verdict()[0] and not searched:
                # Search below the first failure now, while the system is otherwise idle; the
                # plan's higher rates follow.
                searched = True
                held = [r for r, x in self.windows.items() if x.verdict()[0]]
                await self._search(max(held, default=0.0), rate)
        if not searched:
            await self._search(float(max(self.plan.rates)), math.inf)

    async def _search(self, low: float, high: float) -> None:
        self.highest = low
        for _ in range(self.plan.search_steps):
            if self.deadline - now() < self.plan.search_window_s + 5:
                break
            if math.isinf(high):
                rate = low * 1.5
            elif high - low <= max(5.0, 0.1 * high):
                break
            else:
                rate = (low + high) / 2
            rate = float(max(round(rate / 5) * 5, 5))
            if rate in (low, high):
                break
            w = await self._window(rate, self.plan.search_window_s)
            self.steps.append(w)
            if w.verdict()[0]:
                low = self.highest = rate
            else:
                high = rate


async def bench_e2e(
    infra: BenchInfra, *, quick: bool, repeats: int, profile_dir: Path | None = None
) -> dict[str, Any]:
    plan = Plan.of(quick)
    namespace = infra.namespace()
    rec = infra.settings(RecognitionSettings, namespace)
    notif = infra.settings(NotifierSettings, namespace)
    began = time.monotonic()
    specs = (ServiceSpec("recognition", RECOGNITION_PORT), ServiceSpec("notifier", NOTIFIER_PORT))
    admin = issue_token(notif.auth_token_secret, "bench-ops", scopes=("admin",))
    try:
        async with (
            running_sink(free_port(), free_port()) as sink,
            httpx.AsyncClient(headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client,
        ):

            def env_for(spec: ServiceSpec) -> dict[str, str]:
                if spec.name == "recognition":
                    return service_env(rec)
                return service_env(
                    notif,
                    SMTP_PORT=str(sink.smtp_port),
                    CHAT_WEBHOOK_URL=f"{sink.url}/hooks/default",
                    CHAT_ALLOWED_HOSTS='["127.0.0.1"]',
                    CHAT_RATE="10000/second",
                    EMAIL_RATE="10000/second",
                )

            async with running_services(infra, specs, env_for, profile_dir=profile_dir) as services:
                rss_idle = services.rss_mb()
                started_s = time.monotonic() - began
                load = KudosLoad(rec, RECOGNITION_PORT)
                for c in range(COMMUNITIES):
                    channel = {
                        "id": "bench",
                        "kind": "webhook",
                        "url": f"{sink.url}/hooks/c{c}",
                        "secret": f"bench-webhook-secret-{namespace}-0123456789",
                    }
                    answer = await client.put(
                        f"{services.urls['notifier']}/communities/c{c}/channels",
                        json={"channels": [channel]},
                    )
                    answer.raise_for_status()
                await produce(infra, notif.kafka_topic_prefix, recipient_profiles(load.recipients))
                await wait_for_profiles(client, services.urls["notifier"], load.recipients)
                groups = {
                    "recognition": (rec.kafka_consumer_group, recognition_topics.TOPICS),
                    "judge": (f"{rec.kafka_consumer_group}-judge", recognition_topics.JUDGE_TOPICS),
                    "notifier": (notif.kafka_consumer_group, notifier_topics.TOPICS),
                }
                lags = {
                    name: GroupLag(
                        infra.kafka_bootstrap_servers,
                        group,
                        [f"{namespace}.{t}" for t in topics],
                    )
                    for name, (group, topics) in groups.items()
                }
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
            profiles = {s: profile_summary(p) for s, p in services.profiles.items()}
    finally:
        await drop_namespace(infra, namespace, [rec.mongodb_database, notif.mongodb_database])
    return _report(
        plan,
        repeats,
        measured,
        rss_idle,
        rss_after,
        profiles,
        started_s,
        time.monotonic() - began,
    )


def _report(
    plan: Plan,
    repeats: int,
    measured: Measurement,
    rss_idle: dict[str, float],
    rss_after: dict[str, float],
    profiles: dict[str, dict[str, Any]],
    started_s: float,
    wall_s: float,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {
            "metric": "e2e window per rate",
            "value": plan.window_s,
            "unit": f"s; each percentile the median over {repeats} consecutive parts of it",
        },
    ]
    for rate, w in measured.windows.items():
        rows += _window_rows(w, repeats, f"{rate:g} kudos/s")
    for w in measured.steps:
        held, why = w.verdict()
        rows.append(
            {
                "metric": f"search step {w.rate:g} kudos/s for {w.planned_s:g} s",
                "value": "held" if held else "not held",
                "unit": f"{why}; p99 {_latency(w, 1, 0.99)} ms",
            }
        )
    rows += [
        {
            "metric": "highest rate held without the backlog growing",
            "value": measured.highest,
            "unit": f"kudos/s (search steps of {plan.search_window_s:g} s)",
        },
        {"metric": "services started and ready", "value": round(started_s, 1), "unit": "s"},
        {"metric": "e2e benchmark wall time", "value": round(wall_s, 1), "unit": "s"},
    ]
    goals = []
    goal = measured.windows.get(GOAL_RATE)
    if goal is not None:
        p99 = median_of_parts(goal, repeats, 0.99)
        met = p99 <= GOAL_P99_MS
        goals.append(
            {
                "goal": "e2e p99 ≤ 100 ms at 200 kudos/s",
                "measured": f"p99 {_latency(goal, repeats, 0.99)} ms",
                "met": met,
                "why": "" if met else _why_slow(goal, profiles),
            }
        )
    rss = {
        s: {"idle_mb": rss_idle.get(s, math.nan), "after_mb": rss_after.get(s, math.nan)}
        for s in rss_idle
    }
    result: dict[str, Any] = {"rows": rows, "goals": goals, "rss": rss}
    if profiles:
        result["profiles"] = profiles
    return result


def _why_slow(w: Window, profiles: dict[str, dict[str, Any]]) -> str:
    answered = percentile([(s.answered - s.due) * 1000 for s in w.accepted], 0.5)
    held, verdict = w.verdict()
    parts = [
        f"{'held' if held else 'not held'} ({verdict}); a median kudos waited "
        f"{answered:.0f} ms for POST /kudos to answer and {_latency(w, 1, 0.5)} ms in all "
        "(the rest is the judge, the projection, the notifier's planning and its sending)",
        f"CPU, % of one core: {_cpu(w.cpu)}",
    ]
    for service, summary in profiles.items():
        top = summary.get("top_project_inclusive", [])[:4]
        if top:
            parts.append(
                f"{service} profile: "
                + "; ".join(f"{t['function']} {t['share'] * 100:.0f}%" for t in top)
            )
    return ". ".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_result(name: str, title: str, result: dict[str, Any]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = ["| metric | value | unit |", "|---|---|---|"]
    lines += [f"| {r['metric']} | {r['value']} | {r['unit']} |" for r in result["rows"]]
    lines += ["", "| goal | measured | met | why |", "|---|---|---|---|"]
    lines += [
        f"| {g['goal']} | {g['measured']} | {g['met']} | {g['why']} |" for g in result["goals"]
    ]
    lines += ["", "| service | idle MB | after MB |", "|---|---|---|"]
    lines += [f"| {s} | {v['idle_mb']} | {v['after_mb']} |" for s, v in result["rss"].items()]
    (OUT / f"{name}.md").write_text(f"# {title}\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


def run_alone(
    bench: Callable[..., Coroutine[Any, Any, dict[str, Any]]],
    name: str,
    title: str,
    doc: str | None,
) -> None:
    """Run one benchmark module on its own (`python -m bench.<module>`) and write its files."""
    parser = argparse.ArgumentParser(description=(doc or title).splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument sessions here")
    args = parser.parse_args()
    with provide_infra() as infra:
        result = asyncio.run(
            bench(infra, quick=args.quick, repeats=args.repeats, profile_dir=args.profile)
        )
    write_result(name, title, result)


def main() -> None:
    run_alone(bench_e2e, "e2e_latency", "End-to-end kudos latency", __doc__)


if __name__ == "__main__":
    main()
