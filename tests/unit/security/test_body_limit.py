"""`shared.body_limit`: bodies over the limit get a 413 problem+json, declared or chunked, and the
route never sees the whole body."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.types import Message

from shared.body_limit import BodySizeLimit
from shared.http import install_problem_handlers
from tests.problems import assert_body_too_large

LIMIT = 1024


class Note(BaseModel):
    text: str


def app_with_limit(read: list[int], **options: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/notes")
    async def notes(note: Note) -> dict[str, int]:  # FastAPI reads and parses the body
        return {"length": len(note.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        async for chunk in request.stream():
            read.append(len(chunk))
        return {"read": sum(read)}

    app.add_middleware(BodySizeLimit, max_bytes=LIMIT, **options)
    return app


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_body_within_the_limit_reaches_the_route() -> None:
    async with client(app_with_limit([])) as http:
        response = await http.post("/notes", json={"text": "x" * (LIMIT - 20)})
    assert response.status_code == 200, response.text
    assert response.json() == {"length": LIMIT - 20}


async def test_a_declared_length_over_the_limit_is_refused_before_the_route_reads_anything() -> (
    None
):
    read: list[int] = []
    async with client(app_with_limit(read)) as http:
        response = await http.post("/raw", content=b"x" * (LIMIT + 1))
    assert_body_too_large(response, LIMIT)
    assert read == []


async def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read() -> None:
    read: list[int] = []
    async with client(app_with_limit(read)) as http:
        response = await http.post("/raw", content=chunks(LIMIT * 64))
    assert_body_too_large(response, LIMIT)
    assert "content-length" not in response.request.headers
    assert sum(read) <= LIMIT  # the route saw no more than the limit


async def test_a_chunked_body_over_the_limit_is_413_even_where_the_framework_parses_it() -> None:
    async with client(app_with_limit([])) as http:
        response = await http.post(
            "/notes", content=chunks(LIMIT * 4), headers={"content-type": "application/json"}
        )
    assert_body_too_large(response, LIMIT)


async def test_a_chunked_body_within_the_limit_reaches_the_route() -> None:
    read: list[int] = []
    async with client(app_with_limit(read)) as http:
        response = await http.post("/raw", content=chunks(LIMIT))
    assert response.status_code == 200
    assert response.json() == {"read": LIMIT}


async def test_a_lying_content_length_does_not_get_more_than_the_limit_through() -> None:
    """An ASGI server passes on what arrives; the count, not the header, decides."""
    read: list[int] = []
    app = app_with_limit(read)
    sent: list[Message] = []
    body = b"x" * (LIMIT * 2)

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/raw",
        "raw_path": b"/raw",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", b"10"), (b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert read == []


@pytest.mark.parametrize(("path", "status"), [("/raw", 200), ("/notes", 413)])
async def test_a_path_may_have_no_limit_of_its_own(path: str, status: int) -> None:
    app = app_with_limit([], path_limits={"/raw": None})
    async with client(app) as http:
        response = await http.post(path, json={"text": "x" * (LIMIT * 2)})
    assert response.status_code == status


async def test_a_path_may_have_a_larger_limit() -> None:
    app = app_with_limit([], path_limits={"/notes": LIMIT * 4})
    async with client(app) as http:
        within = await http.post("/notes", json={"text": "x" * (LIMIT * 3)})
        over = await http.post("/notes", json={"text": "x" * (LIMIT * 5)})
    assert within.status_code == 200
    assert over.status_code == 413
