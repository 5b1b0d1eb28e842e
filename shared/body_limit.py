"""A request body size limit, as ASGI middleware: 413 problem+json before the body is read whole.

A request that declares a larger `Content-Length` is refused before a byte of its body is read;
a chunked one (or one that sends more than it declared) is refused as soon as the bytes received
pass the limit, whatever the route was doing with them. A path may have its own limit, or none
(a route that enforces and reports its own, like the inbound gateway's `/ingest`).
"""

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_TYPE = "urn:cop:problem:http:body-too-large"


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        path_limits: Mapping[str, int | None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    def limit_for(self, path: str) -> int | None:
        return self.path_limits.get(path, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return

        received = 0
        exceeded = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:  # whatever the app makes of the interrupted body, the answer is 413
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or response_started:
                raise
        if exceeded and not response_started:
            await _refuse(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": "Request body too large",
        "status": 413,
        "detail": f"the body is larger than {limit} bytes",
        "instance": scope["path"],
        "errors": [{"field": "body", "message": f"more than {limit} bytes"}],
    }
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is not read: the client must not reuse the connection.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
