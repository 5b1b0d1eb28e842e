"""Asking for trace export on a stack that already runs (`make up TRACES=1` after `make up`)
starts the services that run without it again, and from then on they send their spans."""

import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from copctl.devstack import viewer
from copctl.devstack.processes import running, stop, wait_until
from copctl.devstack.stack import ServiceSpec, start_services
from tests.http_stubs import serving_in_thread
from tests.infra import Infrastructure
from tests.namespaces import track
from tests.sinks import free_port

pytestmark = pytest.mark.e2e


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that only counts what it is sent."""

    posts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        _Receiver.posts.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def otlp_endpoint() -> Iterator[str]:
    _Receiver.posts = []
    with serving_in_thread(_Receiver) as url:
        yield url


def test_a_running_service_is_restarted_to_export_its_traces(
    infra: Infrastructure,
    otlp_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    namespace = f"tr{uuid.uuid4().hex[:8]}"
    spec = ServiceSpec("events", free_port())
    name = f"{namespace}-events"
    stack_infra = infra.stack()
    plain = {
        "KAFKA_TOPIC_PREFIX": track(f"{namespace}."),
        "KAFKA_TOPIC_PARTITIONS": "1",
        "MONGODB_DATABASE": f"{namespace}_events",
        "OTEL_TRACES_EXPORTER": "none",
        "COP_TRACE_FILE": str(tmp_path / "events.jsonl"),
    }
    traced = {**plain, **viewer.service_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint}
    try:
        url = start_services(
            stack_infra, specs=(spec,), env_for=lambda _: plain, prefix=f"{namespace}-"
        )
        first = running(name)
        assert first is not None

        start_services(stack_infra, specs=(spec,), env_for=lambda _: traced, prefix=f"{namespace}-")
        second = running(name)
        assert second is not None
        assert second.pid != first.pid
        assert f"restarting {name} to apply OTEL_EXPORTER_OTLP_ENDPOINT" in capsys.readouterr().out

        httpx.get(f"{url['events']}/communities/nothing", timeout=10)
        wait_until(
            lambda: "/v1/traces" in _Receiver.posts,
            timeout_s=30,
            what="the restarted service to export its spans",
        )

        start_services(stack_infra, specs=(spec,), env_for=lambda _: traced, prefix=f"{namespace}-")
        assert running(name) == second  # the same settings: kept
    finally:
        stop(name)
