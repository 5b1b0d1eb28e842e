"""`copctl dev up | down | status`: the whole local stack, in dependency order."""

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
    Running,
    port_open,
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


def _bring_up(
    name: str, env_var: str, default: str, port: int, starter: Callable[[], Running], infra: Infra
) -> str:
    if given := os.environ.get(env_var):
        infra.notes[name] = f"given by {env_var}"
        return given
    if running(name) is not None:
        infra.notes[name] = "already running (started by copctl)"
        return default
    if port_open("127.0.0.1", port):
        infra.notes[name] = f"something already listens on :{port}; using it"
        return default
    print(f"starting {name} ({_FIRST_RUN_HINT.get(name, 'a few seconds')})", flush=True)
    began = time.monotonic()
    starter()
    infra.started.append(name)
    infra.notes[name] = f"started in {time.monotonic() - began:.1f}s"
    return default


def up_infra(*, topic_prefix: str = "", partitions: int = 6) -> Infra:
    """Kafka, a MongoDB-protocol server and Redis: from the environment, or started here."""
    infra = Infra("", "", "")
    infra.kafka_bootstrap_servers = _bring_up(
        "kafka", "KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers(), kafka.PORT,
        kafka.start_broker, infra,
    )  # fmt: skip
    infra.mongodb_uri = _bring_up(
        "mongodb", "MONGODB_URI", mongo.uri(), mongo.PORT, mongo.start_mongo, infra
    )
    infra.redis_url = _bring_up(
        "redis", "REDIS_URL", redis.url(), redis.PORT, redis.start_redis, infra
    )
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


def down(prefix: str = "", *, include_infra: bool = True) -> list[str]:
    """Stop what copctl started, services first; returns the names stopped."""
    order = [*(s.name for s in SERVICES), *SINKS, *(INFRA if include_infra else ())]
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


def up() -> tuple[Infra, dict[str, str]]:
    infra = up_infra()
    start_sinks()
    return infra, start_services(infra)
