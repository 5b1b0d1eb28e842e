"""`copctl dev stop NAME` and `copctl dev start NAME`: which names they take, what they ask the
stack to do, and what the stack refuses before touching anything."""

import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from copctl.cli import app
from copctl.devstack import stack
from copctl.devstack.paths import run_dir
from copctl.devstack.processes import Instance, Running, StackError

runner = CliRunner()
NOBODY = Instance(prefix="nothing-", port_offset=30_000)
NAMES = (
    "events, knowledge, recognition, notifier, impact, web, smtp-sink, chat-sink, kafka, mongodb, "
    "redis"
)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str]]:
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))  # no pid file of the real stack is read
    seen: list[tuple[str, str]] = []

    def fake_stop(name: str, **_: Any) -> bool:
        seen.append(("stop", name))
        if name == "kafka":
            raise StackError("kafka on :9092 was not started by copctl: it will not stop it")
        return name != "knowledge"

    def fake_start(name: str, **_: Any) -> Running:
        seen.append(("start", name))
        if name == "notifier":
            raise StackError("notifier was never started by copctl here: nothing to start")
        return Running(name, 4242, Path("/dev/null"))

    monkeypatch.setattr(stack, "stop_one", fake_stop)
    monkeypatch.setattr(stack, "start_one", fake_start)
    return seen


@pytest.mark.parametrize("name", ["events", "recognition", "smtp-sink", "redis"])
def test_a_service_sink_or_server_is_stopped_and_started(
    calls: list[tuple[str, str]], name: str
) -> None:
    stopped = runner.invoke(app, ["dev", "stop", name])
    assert stopped.exit_code == 0, stopped.output
    assert f"stopped {name}" in stopped.output
    started = runner.invoke(app, ["dev", "start", name])
    assert started.exit_code == 0, started.output
    assert f"started {name} (pid 4242)" in started.output
    assert calls == [("stop", name), ("start", name)]


def test_stopping_what_is_not_running_says_so(calls: list[tuple[str, str]]) -> None:
    result = runner.invoke(app, ["dev", "stop", "knowledge"])
    assert result.exit_code == 0, result.output
    assert "knowledge was not running" in result.output


@pytest.mark.parametrize("command", ["stop", "start"])
def test_an_unknown_name_is_refused_with_the_names_taken(
    calls: list[tuple[str, str]], command: str
) -> None:
    result = runner.invoke(app, ["dev", command, "postgres"])
    assert result.exit_code == 2
    assert NAMES in result.output.replace("\n", " ")
    assert calls == []


@pytest.mark.parametrize(("command", "name"), [("stop", "kafka"), ("start", "notifier")])
def test_a_refusal_exits_1_with_the_reason(
    calls: list[tuple[str, str]], command: str, name: str
) -> None:
    result = runner.invoke(app, ["dev", command, name])
    assert result.exit_code == 1
    assert "copctl" in result.output


def test_the_stack_refuses_unknown_names() -> None:
    with pytest.raises(StackError, match="cannot stop 'trace-viewer'"):
        stack.stop_one("trace-viewer", instance=NOBODY)
    with pytest.raises(StackError, match="cannot start 'postgres'"):
        stack.start_one("postgres", instance=NOBODY)


def test_nothing_never_started_here_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))
    for name in ("events", "chat-sink"):
        with pytest.raises(StackError, match="never started by copctl here: nothing to start"):
            stack.start_one(name, instance=NOBODY)
        assert stack.stop_one(name, instance=NOBODY) is False


def test_a_server_copctl_did_not_start_is_neither_stopped_nor_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))
    monkeypatch.setattr(stack, "port_open", lambda host, port: port == 36379)
    stopped: list[str] = []

    def fake_stop(name: str, **_: Any) -> bool:
        stopped.append(name)
        return True

    monkeypatch.setattr(stack, "stop", fake_stop)
    with pytest.raises(StackError, match="nothing-redis on :36379 was not started by copctl"):
        stack.stop_one("redis", instance=NOBODY)
    with pytest.raises(StackError, match="it will not start it"):
        stack.start_one("redis", instance=NOBODY)
    assert stopped == []


def test_a_service_starts_again_as_it_was_launched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))
    name = NOBODY.name("recognition")
    (run_dir() / f"{name}.launch.json").write_text(
        '{"argv": ["python", "-m", "services.recognition.main"], '
        '"env": {"HTTP_PORT": "38083"}, "cwd": null}'
    )
    launched: list[str] = []
    waited: list[str] = []

    def fake_restart_same(n: str) -> Running:
        launched.append(n)
        return Running(n, 7, Path("/dev/null"))

    monkeypatch.setattr(stack, "restart_same", fake_restart_same)
    monkeypatch.setattr(stack, "wait_until", lambda check, **kw: waited.append(kw["what"]))
    proc = stack.start_one("recognition", instance=NOBODY)
    assert proc.pid == 7
    assert launched == [name]
    assert waited == [f"{name} /readyz"]


def test_a_private_stack_refuses_a_listener_it_did_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fault suite's servers are its own: an orphan on its port (say, a Redis left by an
    interrupted run) would be killed and restarted by nobody, so it is refused, not used."""
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))
    with socket.socket() as orphan:
        orphan.bind(("127.0.0.1", 0))
        orphan.listen()
        port = orphan.getsockname()[1]
        private = Instance(prefix="orphaned-", port_offset=port - 6379)
        with pytest.raises(StackError, match=f"did not start listens on :{port}"):
            stack.bring_up("redis", private, stack.Infra("", "", ""), from_env=False)
