"""Services of the stack run as processes for a benchmark (`bench.e2e_latency`,
`bench.notifier_delivery`): each in the benchmark's own namespace, optionally under pyinstrument;
their memory and CPU, where their time went, and what they leave behind removed. `staged` sets up
what both benchmarks run in (the sink, the services, an operator's client), and `Stage` gives the
notifier the recipients both need.
"""

import asyncio
import contextlib
import functools
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # psutil ships no type hints
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from bench.harness import BenchInfra, produce_events
from bench.sink_server import Sink, running_sink
from copctl.devstack.paths import REPO_ROOT
from copctl.devstack.processes import running, start, stop, wait_until
from copctl.devstack.stack import Infra as StackInfra
from copctl.devstack.stack import ServiceSpec, start_services
from shared.auth import issue_token
from shared.events.catalog import MemberProfileUpdated
from shared.events.envelope import CloudEvent, new_event
from shared.settings import ServiceSettings

INFRA_PROCESSES = ("kafka", "mongodb", "redis")


@dataclass
class Services:
    """Service processes started for one benchmark, by service name."""

    names: dict[str, str]
    urls: dict[str, str]
    profiles: dict[str, Path] = field(default_factory=dict)

    def pid(self, service: str) -> int | None:
        proc = running(self.names[service])
        return proc.pid if proc else None

    def _signal_profiled(self, signum: signal.Signals) -> None:
        for service in self.profiles:
            pid = self.pid(service)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)

    def start_profiling(self) -> None:
        self._signal_profiled(signal.SIGUSR2)

    async def save_profiles(self, timeout_s: float = 60.0) -> None:
        self._signal_profiled(signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(p.exists() for p in self.profiles.values()):
                return
            await asyncio.sleep(0.2)

    def profile_summaries(self) -> dict[str, dict[str, Any]]:
        return {service: profile_summary(path) for service, path in self.profiles.items()}

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


# The notifier's own pace: its production rates (a chat post a second per webhook, Slack's)
# would make a benchmark measure the limiter.
UNLIMITED_RATES = {"CHAT_RATE": "10000/second", "EMAIL_RATE": "10000/second"}


def notifier_env(settings: ServiceSettings, sink: Sink, webhook: str) -> dict[str, str]:
    """A notifier in the benchmark's namespace that sends its e-mails and its default chat posts
    (to the sink's `/hooks/<webhook>`) to the sink, with its rate limits lifted."""
    return service_env(
        settings,
        SMTP_PORT=str(sink.smtp_port),
        CHAT_WEBHOOK_URL=f"{sink.url}/hooks/{webhook}",
        CHAT_ALLOWED_HOSTS='["127.0.0.1"]',
        **UNLIMITED_RATES,
    )


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


@dataclass
class Stage:
    """One run's sink, its services as processes, and a client that acts as their operator."""

    sink: Sink
    services: Services
    client: httpx.AsyncClient

    async def add_recipients(self, infra: BenchInfra, prefix: str, members: Sequence[str]) -> None:
        """The members' profiles produced under `prefix`; returns once the notifier knows them."""
        await produce_events(infra, prefix, recipient_profiles(members))
        await wait_for_profiles(self.client, self.services.urls["notifier"], members)


@contextlib.asynccontextmanager
async def staged(
    infra: BenchInfra,
    namespace: str,
    specs: Sequence[ServiceSpec],
    env_for: Callable[[ServiceSpec, Sink], dict[str, str]],
    settings: Sequence[ServiceSettings],
    *,
    profile_dir: Path | None = None,
) -> AsyncIterator[Stage]:
    """A sink, the services with the environment `env_for` gives them beside it, and an operator's
    client (admin scope, signed with the secret the services share); on the way out all stopped
    and the namespace removed with the services' databases (`settings`)."""
    admin = issue_token(settings[0].auth_token_secret, "bench-ops", scopes=("admin",))
    try:
        async with (
            running_sink(free_port(), free_port()) as sink,
            httpx.AsyncClient(headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client,
            running_services(
                infra, specs, lambda spec: env_for(spec, sink), profile_dir=profile_dir
            ) as services,
        ):
            yield Stage(sink, services, client)
    finally:
        await drop_namespace(infra, namespace, [s.mongodb_database for s in settings])


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
