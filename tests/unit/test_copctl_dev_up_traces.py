"""`copctl dev up --traces` (`make up TRACES=1`) on a stack that already runs: the services that
run without trace export are started again with it, and the long first build of the trace viewer
says how far it is."""

import sys
from pathlib import Path
from typing import Any

import pytest

from copctl.devstack import stack, viewer
from copctl.devstack.processes import Running, StackError, run_with_progress
from copctl.devstack.stack import Infra, changed_settings

TRACES = viewer.service_env()


def test_a_service_started_without_trace_export_must_be_restarted_to_export() -> None:
    launched = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "HTTP_PORT": "8081"}
    assert changed_settings(launched, {**launched, **TRACES}) == sorted(TRACES)


def test_a_service_that_already_exports_or_is_asked_for_less_is_kept() -> None:
    launched = {"HTTP_PORT": "8081", **TRACES}
    assert changed_settings(launched, launched) == []
    assert changed_settings(launched, {"HTTP_PORT": "8081"}) == []  # `make up` after TRACES=1


def test_another_value_is_a_change() -> None:
    assert changed_settings({"HTTP_PORT": "8081"}, {"HTTP_PORT": "9081"}) == ["HTTP_PORT"]


class FakeProcesses:
    """What `start_services` asks of the process table, with some services already running."""

    def __init__(self, launched: dict[str, dict[str, str]]) -> None:
        self.launched = launched
        self.alive = set(launched)
        self.calls: list[tuple[str, str]] = []

    def running(self, name: str) -> Running | None:
        return Running(name, 1, Path("/dev/null")) if name in self.alive else None

    def launched_env(self, name: str) -> dict[str, str]:
        return self.launched.get(name, {})

    def stop(self, name: str, **_: Any) -> bool:
        self.calls.append(("stop", name))
        self.alive.discard(name)
        return True

    def start(self, name: str, argv: list[str], *, env: dict[str, str], **_: Any) -> Running:
        if name in self.alive:
            return Running(name, 1, Path("/dev/null"))
        self.calls.append(("start", name))
        self.launched[name] = dict(env)
        self.alive.add(name)
        return Running(name, 2, Path("/dev/null"))


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeProcesses:
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))
    infra = Infra("127.0.0.1:9092", "mongodb://127.0.0.1:27017", "redis://127.0.0.1:6379/0")

    def base(spec: stack.ServiceSpec) -> dict[str, str]:
        """What `dev up` started the service with, before any trace export."""
        return {
            **infra.env(),
            "HTTP_PORT": str(spec.port),
            "COP_TRACE_FILE": str(tmp_path / "traces" / f"{spec.name}.jsonl"),
        }

    specs = {s.name: s for s in stack.SERVICES}
    fake = FakeProcesses(
        {
            "events": base(specs["events"]),
            "knowledge": base(specs["knowledge"]),
            "recognition": {**base(specs["recognition"]), **TRACES},
        }
    )
    for name in ("running", "launched_env", "stop", "start"):
        monkeypatch.setattr(stack, name, getattr(fake, name))
    monkeypatch.setattr(stack, "wait_until", lambda *a, **kw: None)
    monkeypatch.setattr(stack, "up_infra", lambda: infra)
    monkeypatch.setattr(stack, "start_sinks", lambda: None)
    return fake


def test_up_with_traces_restarts_the_services_running_without_export(
    processes: FakeProcesses,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(viewer, "start_viewer", lambda: None)
    stack.up(traces=True)
    assert processes.calls == [
        ("stop", "events"),
        ("start", "events"),
        ("stop", "knowledge"),
        ("start", "knowledge"),
        ("start", "notifier"),  # was not running
        ("start", "impact"),  # neither was this one
        ("start", "web"),
    ]  # recognition exports already: kept
    for name in ("events", "knowledge", "recognition", "notifier"):
        assert TRACES.items() <= processes.launched[name].items()
    assert "restarting events to apply OTEL_EXPORTER_OTLP_ENDPOINT" in capsys.readouterr().out


def test_up_without_traces_keeps_what_runs(processes: FakeProcesses) -> None:
    stack.up(traces=False)
    assert processes.calls == [("start", "notifier"), ("start", "impact"), ("start", "web")]


def _script(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_long_step_says_what_it_does_how_far_it_is_and_when_it_is_done() -> None:
    said: list[str] = []
    # The step itself takes a while (like a build): a line every 0.1 s.
    run_with_progress(
        _script("import time\nfor i in range(8):\n    print(f'pkg/{i}', flush=True)\n"
                "    time.sleep(0.1)"),
        what="building the thing",
        progress=lambda lines: f"{len(lines)} packages",
        every_s=0.2,
        say=said.append,
    )  # fmt: skip
    assert said[0] == "building the thing ..."
    assert any(s.startswith("  still building the thing (0 s): ") for s in said[1:-1])
    assert said[-1].startswith("  building the thing: done in ")
    assert said[-1].endswith("(8 packages)")


def test_a_failed_step_fails_with_the_end_of_its_output() -> None:
    with pytest.raises(StackError, match=r"(?s)building the thing failed \(exit 3\).*no space"):
        run_with_progress(
            _script("import sys; print('no space left'); sys.exit(3)"),
            what="building the thing",
            progress=lambda lines: "",
            say=lambda _: None,
        )


def test_go_build_progress_counts_modules_fetched_and_packages_compiled() -> None:
    lines = [
        "go: downloading go.opentelemetry.io/otel v1.38.0",
        "go: downloading google.golang.org/grpc v1.75.0",
        "internal/goarch",
        "github.com/jaegertracing/jaeger/cmd/jaeger",
    ]
    assert viewer.go_build_progress(lines) == (
        "2 modules fetched, 2 packages compiled, latest github.com/jaegertracing/jaeger/cmd/jaeger"
    )
    assert viewer.go_build_progress([]) == "0 modules fetched, 0 packages compiled"
