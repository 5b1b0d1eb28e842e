"""End to end: the four services as processes, an HTTP call, and the e-mail and chat sinks."""

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from copctl.devstack.processes import running, stop
from services.recognition.adapters.decisions import judgement_id
from tests.e2e.platform import Platform, copctl, give_kudos, running_platform
from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.polling import eventually

pytestmark = pytest.mark.e2e

WEBHOOK_SECRET = "e2e-secret"


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("e2e")
    namespace = f"e2e{uuid.uuid4().hex[:8]}"
    with running_platform(
        infra, base, namespace, webhook_path="/hooks/cop", webhook_secret=WEBHOOK_SECRET
    ) as running_one:
        yield running_one


async def test_kudos_over_http_reaches_email_and_chat_in_one_trace(
    infra: Infrastructure, platform: Platform
) -> None:
    giver, receiver = f"ada{uuid.uuid4().hex[:6]}", f"grace{uuid.uuid4().hex[:6]}"
    copctl(
        "emit", "cop.member.profile_updated.v1", "--topic-prefix", platform.topic_prefix,
        "--set", f"member_id={giver}", "--set", "name=Ada Lovelace",
        "--set", f"email={giver}@example.com",
        env={"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers},
    )  # fmt: skip
    giver_token = copctl("token", giver).strip()
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

        response = await give_kudos(
            http, platform, giver_token, receiver, "Thanks for pairing on the <flaky> test!"
        )
        assert response.status_code == 202
        # The notifier announces the judgement of the kudos, not the request for it.
        event_id = judgement_id(response.json()["kudos_id"])

        async def counted() -> bool:
            got = await http.get(f"{platform.urls['recognition']}/members/{receiver}/kudos")
            return bool(got.json()["received"] == 1)

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
        http_spans = [s for s in platform.spans("recognition") if s["name"] == "POST /kudos"]
        sent = {s["trace_id"] for s in platform.spans("notifier") if s["name"] == "smtp send"}
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
