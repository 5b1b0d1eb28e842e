"""`copctl sources`: the events service's `/sources` API from the command line; when the service
cannot be reached, a clear message and exit 1."""

import json
import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from copctl.cli import app
from tests.http_stubs import JsonHandler, serving_in_thread

NEW_KEY = "cop_new-key-shown-once"
UNTIL = "2026-11-24T10:00:00Z"


class Events(JsonHandler):
    """Answers `POST /sources/{name}/rotate` as the events service does: `wiki` is rotated,
    `gone` is revoked (409), anything else is unknown (404)."""

    requests: ClassVar[list[tuple[str, Any, str | None]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        Events.requests.append((self.path, body, self.headers.get("Authorization")))
        if self.path == "/sources/wiki/rotate":
            self.answer(
                200,
                {"name": "wiki", "api_key": NEW_KEY, "previous_key_valid_until": UNTIL},
                "application/json",
            )
        elif self.path == "/sources/gone/rotate":
            self.answer(409, {"title": "Key not rotated", "status": 409,
                               "detail": "source 'gone' is revoked"})  # fmt: skip
        else:
            self.answer(404, {"title": "Not found", "status": 404, "detail": "no source"})


@pytest.fixture(scope="module")
def events_url() -> Iterator[str]:
    with serving_in_thread(Events) as url:
        yield url


def a_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_copctl_sources_says_which_url_it_cannot_reach_and_exits_1() -> None:
    url = f"http://127.0.0.1:{a_closed_port()}"
    runner = CliRunner()
    for args in (
        ["list"],
        ["add", "wiki", "--types", "cop.kudos.given.v1"],
        ["rotate", "wiki", "--overlap", "60"],
        ["revoke", "wiki"],
    ):
        result = runner.invoke(app, ["sources", *args, "--events-url", url])
        assert result.exit_code == 1, result.output
        assert f"cannot reach the events service at {url}" in result.stderr
        assert "EVENTS_URL" in result.stderr
        assert result.stdout == ""


def test_copctl_sources_rotate_prints_the_new_key_once_and_until_when_the_old_one_works(
    events_url: str,
) -> None:
    Events.requests.clear()
    result = CliRunner().invoke(
        app, ["sources", "rotate", "wiki", "--overlap", "3600", "--events-url", events_url]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count(NEW_KEY) == 1
    assert f"previous_key_valid_until: {UNTIL}" in result.stdout
    ((path, body, authorization),) = Events.requests
    assert (path, body) == ("/sources/wiki/rotate", {"overlap_s": 3600})
    assert authorization is not None
    assert authorization.startswith("Bearer ")


def test_copctl_sources_rotate_without_overlap_leaves_it_to_the_service(events_url: str) -> None:
    Events.requests.clear()
    result = CliRunner().invoke(app, ["sources", "rotate", "wiki", "--events-url", events_url])
    assert result.exit_code == 0, result.output
    assert [body for _, body, _ in Events.requests] == [{}]


@pytest.mark.parametrize(
    ("name", "message"), [("gone", "source 'gone' is revoked"), ("nobody", "no source")]
)
def test_copctl_sources_rotate_says_why_the_service_refused_and_exits_1(
    events_url: str, name: str, message: str
) -> None:
    result = CliRunner().invoke(app, ["sources", "rotate", name, "--events-url", events_url])
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert result.stdout == ""
