"""`copctl dev up | down | status | restart`: the whole local stack, in dependency order."""

import asyncio
import functools
import os
import sys
import time
from collections.abc import Callable
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
    launched_env,
    port_open,
    restart_same,
    running,
    start,
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


def _bring_up(name: str, instance: Instance, infra: Infra, *, from_env: bool) -> str:
    part = _INFRA_PARTS[name]
    default, port, full_name = part.address(instance), instance.port(part.port), instance.name(name)
    if from_env and (given := os.environ.get(part.env_var)):
        infra.notes[name] = f"given by {part.env_var}"
        return given
    if running(full_name) is not None:
        infra.notes[name] = "already running (started by copctl)"
        return default
    if port_open("127.0.0.1", port):
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
    infra.kafka_bootstrap_servers = _bring_up("kafka", instance, infra, from_env=from_env)
    infra.mongodb_uri = _bring_up("mongodb", instance, infra, from_env=from_env)
    infra.redis_url = _bring_up("redis", instance, infra, from_env=from_env)
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
        proc = start(
            name,
            [sys.executable, "-m", "copctl.devstack.sinks", kind, "--port", str(port),
             "--out", str(out)],
            cwd=REPO_ROOT,
        )  # fmt: skip
        wait_until(
            functools.partial(port_open, "127.0.0.1", port),
            timeout_s=20,
            what=f"{name} on :{port}",
            process=proc,
        )


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_services(
    infra: Infra,
    *,
    specs: tuple[ServiceSpec, ...] = SERVICES,
    env_for: Callable[[ServiceSpec], dict[str, str]] | None = None,
    prefix: str = "",
    timeout_s: float = 90,
) -> dict[str, str]:
    """Start the services as processes and wait until each answers `/readyz`; returns URLs."""
    urls: dict[str, str] = {}
    procs: list[tuple[ServiceSpec, Running]] = []
    for spec in specs:
        env = {
            **infra.env(),
            "HTTP_PORT": str(spec.port),
            "COP_TRACE_FILE": str(local_dir() / "traces" / f"{spec.name}.jsonl"),
            **(env_for(spec) if env_for else {}),
        }
        procs.append((spec, start(f"{prefix}{spec.name}", [sys.executable, "-m", spec.module],
                                  env=env, cwd=REPO_ROOT)))  # fmt: skip
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


def restart(
    name: str, *, instance: Instance = DEFAULT, hard: bool = False, timeout_s: float = 90
) -> Running:
    """Stop one process of the stack (SIGTERM, or SIGKILL with `hard`: a crash) and start it
    again the same way, then wait until it serves: a port that answers (Kafka, MongoDB, Redis),
    `/readyz` (a service). A process copctl did not start is refused."""
    if name not in RESTARTABLE:
        raise StackError(f"cannot restart {name!r}: one of {', '.join(RESTARTABLE)}")
    full_name = instance.name(name)
    if name in INFRA:
        part = _INFRA_PARTS[name]
        port = instance.port(part.port)
        if running(full_name) is None and port_open("127.0.0.1", port):
            raise StackError(f"{full_name} on :{port} was not started by copctl: not restarting")
        (kill if hard else stop)(full_name)
        return part.starter(instance)
    env = launched_env(full_name)
    if "HTTP_PORT" not in env:
        raise StackError(f"{full_name} was never started by copctl here: nothing to restart")
    (kill if hard else stop)(full_name)
    proc = restart_same(full_name)
    wait_until(
        functools.partial(_ready, f"http://127.0.0.1:{env['HTTP_PORT']}/readyz"),
        timeout_s=timeout_s,
        what=f"{full_name} /readyz",
        process=proc,
    )
    return proc


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
