"""`copctl sources` when the events service cannot be reached: a clear message, exit 1."""

import socket

from typer.testing import CliRunner

from copctl.cli import app


def a_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_copctl_sources_says_which_url_it_cannot_reach_and_exits_1() -> None:
    url = f"http://127.0.0.1:{a_closed_port()}"
    runner = CliRunner()
    for args in (["list"], ["add", "wiki", "--types", "cop.kudos.given.v1"], ["revoke", "wiki"]):
        result = runner.invoke(app, ["sources", *args, "--events-url", url])
        assert result.exit_code == 1, result.output
        assert f"cannot reach the events service at {url}" in result.stderr
        assert "EVENTS_URL" in result.stderr
        assert result.stdout == ""
