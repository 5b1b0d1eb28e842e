"""`copctl dev restart NAME`: which names it takes and what it asks the stack to do."""

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from copctl.cli import app
from copctl.devstack import stack
from copctl.devstack.processes import Instance, Running, StackError

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def fake_restart(name: str, **kwargs: Any) -> Running:
        seen.append((name, kwargs))
        if name == "kafka":
            raise StackError("kafka on :9092 was not started by copctl: not restarting")
        return Running(name, 4242, Path("/dev/null"))

    monkeypatch.setattr(stack, "restart", fake_restart)
    return seen


@pytest.mark.parametrize("name", ["events", "knowledge", "recognition", "notifier", "redis"])
def test_each_service_and_server_of_the_stack_can_be_restarted(
    calls: list[tuple[str, dict[str, Any]]], name: str
) -> None:
    result = runner.invoke(app, ["dev", "restart", name])
    assert result.exit_code == 0, result.output
    assert calls == [(name, {"hard": False})]
    assert f"restarted {name} (pid 4242)" in result.output


def test_hard_kills_instead_of_stopping(calls: list[tuple[str, dict[str, Any]]]) -> None:
    result = runner.invoke(app, ["dev", "restart", "recognition", "--hard"])
    assert result.exit_code == 0, result.output
    assert calls == [("recognition", {"hard": True})]


def test_an_unknown_name_is_refused_with_the_names_it_takes(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    result = runner.invoke(app, ["dev", "restart", "postgres"])
    assert result.exit_code == 2
    names = "events, knowledge, recognition, notifier, impact, web, kafka, mongodb, redis"
    assert f"one of {names}" in result.output
    assert calls == []


def test_a_name_is_required(calls: list[tuple[str, dict[str, Any]]]) -> None:
    result = runner.invoke(app, ["dev", "restart"])
    assert result.exit_code == 2
    assert calls == []


def test_a_failed_restart_exits_1_with_the_reason(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    result = runner.invoke(app, ["dev", "restart", "kafka"])
    assert result.exit_code == 1
    assert "not started by copctl" in result.output


def test_the_stack_refuses_an_unknown_name_before_touching_anything() -> None:
    with pytest.raises(StackError, match="cannot restart 'smtp-sink'"):
        stack.restart("smtp-sink", instance=Instance(prefix="nothing-"))


def test_a_service_never_started_here_is_not_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COP_LOCAL_DIR", str(tmp_path))
    with pytest.raises(StackError, match="never started by copctl"):
        stack.restart("events", instance=Instance(prefix="nothing-"))


def test_another_instance_shifts_ports_names_and_data() -> None:
    from copctl.devstack import kafka, mongo, redis

    other = Instance(prefix="faults-", port_offset=10_000, data_dir=Path("/tmp/faults"))
    assert kafka.bootstrap_servers(other) == "127.0.0.1:19092"
    assert mongo.uri(other) == "mongodb://127.0.0.1:37017"
    assert redis.url(other) == "redis://127.0.0.1:16379/0"
    assert other.name("kafka") == "faults-kafka"
    assert other.home("redis") == Path("/tmp/faults/redis")
    properties = kafka.server_properties(other, Path("/tmp/faults/kafka/data"))
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in properties
    assert "controller.quorum.voters=1@127.0.0.1:19093" in properties
    assert ":9092" not in properties.replace(":19092", "")
    assert kafka.bootstrap_servers() == "127.0.0.1:9092"
    assert mongo.uri() == "mongodb://127.0.0.1:27017"
    assert redis.url() == "redis://127.0.0.1:6379/0"
