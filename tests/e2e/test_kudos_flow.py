"""End to end: the four services as processes, an HTTP call, and the e-mail and chat sinks."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from copctl.devstack.processes import running, stop
from copctl.devstack.stack import SERVICES, ServiceSpec, start_services
from copctl.devstack.stack import Infra as StackInfra
from services.recognition.event_handlers import judgement_id
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.polling import eventually
from tests.namespaces import track
from tests.sinks import Sinks, free_port, running_sinks

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = "e2e-secret"


@dataclass(frozen=True)
class Platform:
    urls: dict[str, str]
    sinks: Sinks
    topic_prefix: str
    traces: Path
    process_names: list[str]


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("e2e")
    namespace = f"e2e{uuid.uuid4().hex[:8]}"
    specs = tuple(ServiceSpec(s.name, free_port()) for s in SERVICES)
    prefix = f"{namespace}-"
    with running_sinks(base) as sinks:

        def env_for(spec: ServiceSpec) -> dict[str, str]:
            return {
                "KAFKA_TOPIC_PREFIX": track(f"{namespace}."),
                "KAFKA_TOPIC_PARTITIONS": "3",
                "MONGODB_DATABASE": f"{namespace}_{spec.name}",
                "COP_TRACE_FILE": str(base / "traces" / f"{spec.name}.jsonl"),
                "SMTP_PORT": str(sinks.smtp_port),
                "CHAT_WEBHOOK_URL": sinks.chat_url,
                "CHAT_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "RECOGNITION_URL": f"http://127.0.0.1:{specs[2].port}",
                "NOTIFIER_URL": f"http://127.0.0.1:{specs[3].port}",
            }

        stack_infra = StackInfra(infra.kafka_bootstrap_servers, infra.mongodb_uri, infra.redis_url)
        names = [f"{prefix}{s.name}" for s in specs]
        try:
            urls = start_services(stack_infra, specs=specs, env_for=env_for, prefix=prefix)
            yield Platform(urls, sinks, f"{namespace}.", base / "traces", names)
        finally:
            for name in names:
                stop(name)


def copctl_emit(infra: Infrastructure, prefix: str, event_type: str, *flags: str) -> str:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers}
    result = subprocess.run(
        [sys.executable, "-m", "copctl", "emit", event_type, "--topic-prefix", prefix, *flags],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def copctl_token(member_id: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "copctl", "token", member_id],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def spans(traces: Path, service: str) -> list[dict[str, Any]]:
    path = traces / f"{service}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


async def test_kudos_over_http_reaches_email_and_chat_in_one_trace(
    infra: Infrastructure, platform: Platform
) -> None:
    giver, receiver = f"ada{uuid.uuid4().hex[:6]}", f"grace{uuid.uuid4().hex[:6]}"
    copctl_emit(
        infra, platform.topic_prefix, "cop.member.profile_updated.v1",
        "--set", f"member_id={giver}", "--set", "name=Ada Lovelace",
        "--set", f"email={giver}@example.com",
    )  # fmt: skip
    giver_token = copctl_token(giver)
    async with httpx.AsyncClient(timeout=10, headers=bearer("ops", admin=True)) as http:
        response = await http.put(
            f"{platform.urls['events']}/members/{receiver}/profile",
            json={"name": "Grace Hopper", "email": f"{receiver}@example.com", "team": "compilers"},
            headers=bearer(receiver),
        )
        assert response.status_code == 202

        async def notifier_knows_both() -> bool:
            found = [
                await http.get(f"{platform.urls['notifier']}/profiles/{m}")
                for m in (giver, receiver)
            ]
            return all(r.status_code == 200 for r in found)

        await eventually(notifier_knows_both, what="both profiles in the notifier")

        response = await http.post(
            f"{platform.urls['recognition']}/kudos",
            headers={"Authorization": f"Bearer {giver_token}"},
            json={
                "to_ids": [receiver],
                "community_id": "platform-guild",
                "message": "Thanks for pairing on the <flaky> test!",
                "value_tag": "mentoring",
            },
        )
        assert response.status_code == 202
        # The notifier announces the judgement of the kudos, not the request for it.
        event_id = judgement_id(response.json()["kudos_id"])

        async def counted() -> bool:
            got = await http.get(f"{platform.urls['recognition']}/members/{receiver}/kudos")
            return got.json()["received"] == 1

        await eventually(counted, what="the kudos counted in recognition's projection")

    async def mailed() -> list[Any]:
        return platform.sinks.mails_to(f"{receiver}@example.com")

    (mail,) = await eventually(mailed, what="the .eml for the recipient")
    assert mail["Subject"] == "Ada Lovelace gave kudos for mentoring"
    assert mail["X-Cop-Notification-Id"] == f"{event_id}:{receiver}:email"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Thanks for pairing on the <flaky> test!" in text.get_content()
    assert "Thanks for pairing on the &lt;flaky&gt; test!" in html.get_content()

    async def posted() -> list[dict[str, Any]]:
        return [p for p in platform.sinks.posts() if p["body"]["event"]["id"] == event_id]

    (post,) = await eventually(posted, what="the chat post")
    assert post["body"]["text"] == (
        "Ada Lovelace recognised Grace Hopper for mentoring: "
        "Thanks for pairing on the <flaky> test!"
    )
    raw = json.dumps(post["body"], separators=(",", ":")).encode()
    timestamp = post["headers"]["x-cop-timestamp"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    assert post["headers"]["x-cop-signature"] == "sha256=" + expected.hexdigest()

    async def traced() -> set[str] | None:
        http_spans = [
            s for s in spans(platform.traces, "recognition") if s["name"] == "POST /kudos"
        ]
        sent = {
            s["trace_id"] for s in spans(platform.traces, "notifier") if s["name"] == "smtp send"
        }
        shared = {s["trace_id"] for s in http_spans} & sent
        return shared or None

    await eventually(traced, what="the HTTP request and the SMTP send in one trace")


def test_stopping_the_platform_leaves_no_process_behind(platform: Platform) -> None:
    pids = {name: proc.pid for name in platform.process_names if (proc := running(name))}
    assert len(pids) == len(platform.process_names)
    for name in platform.process_names:
        assert stop(name)
    for name, pid in pids.items():
        assert running(name) is None
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), f"{name} ({pid}) survived"


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
