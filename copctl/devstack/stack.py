"""`copctl dev up | down | status | restart`: the whole local stack, in dependency order."""

import asyncio
import functools
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from copctl.devstack import kafka, mongo, redis
from copctl.devstack.paths import REPO_ROOT, local_dir
from copctl.devstack.processes import (
    DEFAULT,
    Instance,
    Running,
    StackError,
    kill,
    launched_argv,
    launched_env,
    port_open,
    restart_same,
    running,
    start,
    start_listening,
    stop,
    wait_until,
)
from shared.kafka import ensure_topics


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"services.{self.name}.main"


SERVICES = (
    ServiceSpec("events", 8081),
    ServiceSpec("knowledge", 8082),
    ServiceSpec("recognition", 8083),
    ServiceSpec("notifier", 8084),
    ServiceSpec("impact", 8085),
    ServiceSpec("web", 8080),  # the pages: reads the services above over HTTP
)
SMTP_PORT, CHAT_PORT = 1025, 8090
SINKS = ("smtp-sink", "chat-sink")
VIEWER = "trace-viewer"
INFRA = ("kafka", "mongodb", "redis")


_FIRST_RUN_HINT = {
    "kafka": "the first run fetches its jars with Maven",
    "mongodb": "the first run fetches mongo-java-server's jars with Maven",
    "redis": "installed with apt-get when missing",
}


@dataclass
class Infra:
    """Where Kafka, MongoDB and Redis are, and which of them this stack started itself."""

    kafka_bootstrap_servers: str
    mongodb_uri: str
    redis_url: str
    started: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "MONGODB_URI": self.mongodb_uri,
            "REDIS_URL": self.redis_url,
        }


@dataclass(frozen=True)
class _InfraPart:
    env_var: str
    address: Callable[[Instance], str]
    port: int
    starter: Callable[[Instance], Running]


_INFRA_PARTS = {
    "kafka": _InfraPart(
        "KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers, kafka.PORT, kafka.start_broker
    ),
    "mongodb": _InfraPart("MONGODB_URI", mongo.uri, mongo.PORT, mongo.start_mongo),
    "redis": _InfraPart("REDIS_URL", redis.url, redis.PORT, redis.start_redis),
}


def bring_up(name: str, instance: Instance, infra: Infra, *, from_env: bool) -> str:
    """One of Kafka, the MongoDB-protocol server and Redis: its address, started when needed."""
    part = _INFRA_PARTS[name]
    default, port, full_name = part.address(instance), instance.port(part.port), instance.name(name)
    if from_env and (given := os.environ.get(part.env_var)):
        infra.notes[name] = f"given by {part.env_var}"
        return given
    if running(full_name) is not None:
        infra.notes[name] = "already running (started by copctl)"
        return default
    if port_open("127.0.0.1", port):
        if instance != DEFAULT:  # its servers are its own: one left by another run is not
            raise StackError(
                f"something that {instance.name(name)} did not start listens on :{port};"
                f" find it with `ss -ltnp 'sport = :{port}'` and stop it"
            )
        infra.notes[name] = f"something already listens on :{port}; using it"
        return default
    print(f"starting {full_name} ({_FIRST_RUN_HINT.get(name, 'a few seconds')})", flush=True)
    began = time.monotonic()
    part.starter(instance)
    infra.started.append(full_name)
    infra.notes[name] = f"started in {time.monotonic() - began:.1f}s"
    return default


def up_infra(
    *,
    topic_prefix: str = "",
    partitions: int = 6,
    instance: Instance = DEFAULT,
    from_env: bool | None = None,
) -> Infra:
    """Kafka, a MongoDB-protocol server and Redis: from the environment, or started here.

    Another `instance` than the default one never takes its servers from the environment
    (unless `from_env`): it is started on its own ports, with its own files."""
    if from_env is None:
        from_env = instance == DEFAULT
    infra = Infra("", "", "")
    infra.kafka_bootstrap_servers = bring_up("kafka", instance, infra, from_env=from_env)
    infra.mongodb_uri = bring_up("mongodb", instance, infra, from_env=from_env)
    infra.redis_url = bring_up("redis", instance, infra, from_env=from_env)
    asyncio.run(
        ensure_topics(
            infra.kafka_bootstrap_servers, partitions=partitions, topic_prefix=topic_prefix
        )
    )
    return infra


def start_sinks(
    *,
    smtp_port: int = SMTP_PORT,
    chat_port: int = CHAT_PORT,
    prefix: str = "",
    mail: Path | None = None,
    chat: Path | None = None,
) -> None:
    """The SMTP and chat webhook sinks, writing to `.local/mail` and `.local/chat` by default."""
    mail, chat = mail or local_dir() / "mail", chat or local_dir() / "chat"
    for name, kind, port, out in (
        (f"{prefix}smtp-sink", "smtp", smtp_port, mail),
        (f"{prefix}chat-sink", "chat", chat_port, chat),
    ):
        start_listening(
            name,
            [sys.executable, "-m", "copctl.devstack.sinks", kind, "--port", str(port),
             "--out", str(out)],
            host="127.0.0.1",
            port=port,
            timeout_s=20,
            what=name,
            cwd=REPO_ROOT,
        )  # fmt: skip


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def changed_settings(launched: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """The variables a running process was started without, or with another value than now
    wanted: it runs with other settings and must be started again to take them. Variables it
    has and that are not asked for any more (`make up` after `make up TRACES=1`) are no reason
    to restart it."""
    return sorted(key for key, value in wanted.items() if launched.get(key) != value)


def start_services(
    infra: Infra,
    *,
    specs: tuple[ServiceSpec, ...] = SERVICES,
    env_for: Callable[[ServiceSpec], dict[str, str]] | None = None,
    prefix: str = "",
    timeout_s: float = 90,
) -> dict[str, str]:
    """Start the services as processes and wait until each answers `/readyz`; returns URLs.

    One that runs already is kept, unless it was started with other settings than these (see
    `changed_settings`): then it is stopped and started with these."""
    urls: dict[str, str] = {}
    procs: list[tuple[ServiceSpec, Running]] = []
    # Where each service of this start answers (EVENTS_URL, ...): the web pages read them.
    upstreams = {
        f"{s.name.upper()}_URL": f"http://127.0.0.1:{s.port}" for s in specs if s.name != "web"
    }
    for spec in specs:
        env = {
            **infra.env(),
            **(upstreams if spec.name == "web" else {}),
            "HTTP_PORT": str(spec.port),
            "COP_TRACE_FILE": str(local_dir() / "traces" / f"{spec.name}.jsonl"),
            **(env_for(spec) if env_for else {}),
        }
        name = f"{prefix}{spec.name}"
        if running(name) is not None and (changed := changed_settings(launched_env(name), env)):
            # e.g. `make up TRACES=1` on a stack started without: the service must be started
            # again to export its traces.
            print(f"restarting {name} to apply {', '.join(changed)}", flush=True)
            stop(name)
        procs.append((spec, start(name, [sys.executable, "-m", spec.module], env=env,
                                  cwd=REPO_ROOT)))  # fmt: skip
    for spec, proc in procs:
        url = f"http://127.0.0.1:{spec.port}"
        wait_until(
            functools.partial(_ready, f"{url}/readyz"),
            timeout_s=timeout_s,
            what=f"{spec.name} /readyz",
            process=proc,
        )
        urls[spec.name] = url
    return urls


RESTARTABLE = (*(s.name for s in SERVICES), *INFRA)
"""What `copctl dev restart` restarts: a service, or one of the infrastructure servers."""
STARTABLE = (*(s.name for s in SERVICES), *SINKS, *INFRA)
"""What `copctl dev stop` and `copctl dev start` take: a service, a sink or a server."""


def _ours(name: str, instance: Instance, verb: str) -> str:
    """The process's full name, once it is clear that copctl started it here; else refused
    (`verb`: what was asked, e.g. "restart")."""
    full_name = instance.name(name)
    if name in INFRA:
        port = instance.port(_INFRA_PARTS[name].port)
        if running(full_name) is None and port_open("127.0.0.1", port):
            raise StackError(
                f"{full_name} on :{port} was not started by copctl: it will not {verb} it"
            )
        return full_name
    argv = launched_argv(full_name)
    if not argv or (name not in SINKS and "HTTP_PORT" not in launched_env(full_name)):
        raise StackError(f"{full_name} was never started by copctl here: nothing to {verb}")
    return full_name


def _serving(name: str, full_name: str) -> tuple[Callable[[], bool], str]:
    """How to tell that a started service (`/readyz`) or sink (its port) serves."""
    if name in SINKS:
        argv = launched_argv(full_name)
        port = int(argv[argv.index("--port") + 1])
        return functools.partial(port_open, "127.0.0.1", port), f"{full_name} on :{port}"
    url = f"http://127.0.0.1:{launched_env(full_name)['HTTP_PORT']}/readyz"
    return functools.partial(_ready, url), f"{full_name} /readyz"


def stop_one(name: str, *, instance: Instance = DEFAULT) -> bool:
    """Stop one process of the stack (SIGTERM, SIGKILL after 20 s), e.g. a service before
    `copctl replay`. False if it was not running. A process copctl did not start is refused."""
    if name not in STARTABLE:
        raise StackError(f"cannot stop {name!r}: one of {', '.join(STARTABLE)}")
    if name in INFRA:
        return stop(_ours(name, instance, "stop"))
    return stop(instance.name(name))


def start_one(name: str, *, instance: Instance = DEFAULT, timeout_s: float = 90) -> Running:
    """Start one process of the stack again the way it was last started and wait until it
    serves: a port that answers (Kafka, MongoDB, Redis, a sink), `/readyz` (a service). One
    that runs already is left as it is."""
    if name not in STARTABLE:
        raise StackError(f"cannot start {name!r}: one of {', '.join(STARTABLE)}")
    full_name = _ours(name, instance, "start")
    if name in INFRA:
        return _INFRA_PARTS[name].starter(instance)
    if (already := running(full_name)) is not None:
        return already
    proc = restart_same(full_name)
    check, what = _serving(name, full_name)
    wait_until(check, timeout_s=timeout_s, what=what, process=proc)
    return proc


def restart(
    name: str, *, instance: Instance = DEFAULT, hard: bool = False, timeout_s: float = 90
) -> Running:
    """Stop one process of the stack (SIGTERM, or SIGKILL with `hard`: a crash) and start it
    again the same way, then wait until it serves: a port that answers (Kafka, MongoDB, Redis),
    `/readyz` (a service). A process copctl did not start is refused."""
    if name not in RESTARTABLE:
        raise StackError(f"cannot restart {name!r}: one of {', '.join(RESTARTABLE)}")
    full_name = _ours(name, instance, "restart")
    (kill if hard else stop)(full_name)
    return start_one(name, instance=instance, timeout_s=timeout_s)


def down(prefix: str = "", *, include_infra: bool = True) -> list[str]:
    """Stop what copctl started, services first; returns the names stopped."""
    order = [*(s.name for s in SERVICES), *SINKS, VIEWER, *(INFRA if include_infra else ())]
    return [name for name in order if stop(f"{prefix}{name}")]


def status() -> list[tuple[str, str, str]]:
    rows = []
    ports = {
        "kafka": kafka.PORT,
        "mongodb": mongo.PORT,
        "redis": redis.PORT,
        "smtp-sink": SMTP_PORT,
        "chat-sink": CHAT_PORT,
        **{s.name: s.port for s in SERVICES},
    }
    if running(VIEWER) is not None:
        ports[VIEWER] = 16686
    for name, port in ports.items():
        proc = running(name)
        state = f"running (pid {proc.pid})" if proc else "stopped"
        if proc is None and port_open("127.0.0.1", port):
            state = "not ours, but the port answers"
        detail = f"127.0.0.1:{port}"
        if name == "mongodb" and proc:
            detail += f" ({mongo.flavour()})"
        rows.append((name, state, detail))
    return rows


def up(*, traces: bool = False) -> tuple[Infra, dict[str, str]]:
    """Everything; with `traces`, the local trace viewer too, and the services export to it."""
    infra = up_infra()
    start_sinks()
    env: dict[str, str] = {}
    if traces:
        from copctl.devstack import viewer

        print("starting the trace viewer (the first run builds Jaeger with Go)", flush=True)
        viewer.start_viewer()
        env = viewer.service_env()
    return infra, start_services(infra, env_for=(lambda _: env) if env else None)
