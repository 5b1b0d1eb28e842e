"""The four services as processes on free ports, with the e-mail and chat sinks, for a module."""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from copctl.devstack.processes import log_path, stop
from copctl.devstack.stack import SERVICES, ServiceSpec, start_services
from tests.copctl_process import run_copctl
from tests.infra import Infrastructure
from tests.namespaces import track
from tests.sinks import Sinks, free_port, running_sinks

Span = dict[str, Any]


@dataclass(frozen=True)
class Platform:
    urls: dict[str, str]
    sinks: Sinks
    namespace: str
    traces: Path
    process_names: list[str]

    @property
    def topic_prefix(self) -> str:
        return f"{self.namespace}."

    def group(self, service: str, role: str = "") -> str:
        """A service's consumer group in this platform (`role`: another consumer's, e.g. the
        judge's), its own so that platforms running side by side never share a group."""
        return f"{self.namespace}-cop-{service}" + (f"-{role}" if role else "")

    def spans(self, service: str | None = None) -> list[Span]:
        """The spans exported so far, by every service or by one."""
        found = []
        for path in sorted(self.traces.glob(f"{service or '*'}.jsonl")):
            found += [json.loads(line) for line in path.read_text().splitlines() if line]
        return found

    def log_lines(self, service: str) -> list[str]:
        return log_path(f"{self.namespace}-{service}").read_text().splitlines()


@contextlib.contextmanager
def running_platform(
    infra: Infrastructure,
    base: Path,
    namespace: str,
    *,
    webhook_path: str,
    webhook_secret: str,
    env: dict[str, str] | None = None,
) -> Iterator[Platform]:
    """Start the four services (each with its own database and trace file under `base`) and
    the sinks; stop them all when the block ends. `env` adds to every service's environment."""
    specs = tuple(ServiceSpec(s.name, free_port()) for s in SERVICES)
    with running_sinks(base) as sinks:

        def env_for(spec: ServiceSpec) -> dict[str, str]:
            return {
                "KAFKA_TOPIC_PREFIX": track(f"{namespace}."),
                "KAFKA_TOPIC_PARTITIONS": "3",
                "KAFKA_CONSUMER_GROUP": f"{namespace}-cop-{spec.name}",
                "MONGODB_DATABASE": f"{namespace}_{spec.name}",
                "COP_TRACE_FILE": str(base / "traces" / f"{spec.name}.jsonl"),
                "SMTP_PORT": str(sinks.smtp_port),
                "CHAT_WEBHOOK_URL": f"http://127.0.0.1:{sinks.chat_port}{webhook_path}",
                "CHAT_WEBHOOK_SECRET": webhook_secret,
                "RECOGNITION_URL": f"http://127.0.0.1:{specs[2].port}",
                "NOTIFIER_URL": f"http://127.0.0.1:{specs[3].port}",
                **(env or {}),
            }

        names = [f"{namespace}-{s.name}" for s in specs]
        try:
            urls = start_services(
                infra.stack(), specs=specs, env_for=env_for, prefix=f"{namespace}-"
            )
            yield Platform(urls, sinks, namespace, base / "traces", names)
        finally:
            for name in names:
                stop(name)


def copctl(*args: str, env: dict[str, str] | None = None) -> str:
    """Run `copctl` as a user would; fail the test on a non-zero exit; give what it printed."""
    result = run_copctl(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def give_kudos(
    http: httpx.AsyncClient, platform: Platform, token: str, receiver: str, message: str
) -> httpx.Response:
    """A member (the token's) gives `receiver` kudos for mentoring in the platform guild."""
    return await http.post(
        f"{platform.urls['recognition']}/kudos",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "to_ids": [receiver],
            "community_id": "platform-guild",
            "message": message,
            "value_tag": "mentoring",
        },
    )
