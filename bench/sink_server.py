"""A chat webhook sink and an SMTP sink for the benchmarks, in one process of their own, that
remember when each message arrived instead of writing it to a file.

    python -m bench.sink_server --http-port 18190 --smtp-port 18191

Each chat post is kept as `[t, event id, kudos message]` and each e-mail as
`[t, X-Cop-Notification-Id]`, where `t` is `CLOCK_MONOTONIC` in seconds: the clock is shared by
every process on the machine, so a benchmark compares it with its own send times. The sink's own
HTTP endpoints (on the same port):

- `GET /counts` -> `{"posts": n, "mails": m}`
- `GET /posts?from=N`, `GET /mails?from=N` -> the records from index N on, as a JSON array

The servers are deliberately minimal (asyncio streams, no framework, nothing written to disk), so
the sink costs the shared CPUs as little as possible and never limits what it measures.
"""

import argparse
import asyncio
import contextlib
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from copctl.devstack.paths import REPO_ROOT
from copctl.devstack.processes import port_open, start, stop, wait_until


def now() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class Records:
    def __init__(self) -> None:
        self.posts: list[list[Any]] = []
        self.mails: list[list[Any]] = []


def _post_record(at: float, body: bytes) -> list[Any]:
    try:
        doc = orjson.loads(body)
        event = doc.get("event") or {}
        kudos = (event.get("data") or {}).get("kudos") or {}
        return [at, event.get("id"), kudos.get("message")]
    except (orjson.JSONDecodeError, AttributeError):
        return [at, None, None]


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _http(
    records: Records, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            at = now()
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if method == "POST":
                records.posts.append(_post_record(at, body))
                writer.write(_response("200 OK", b'{"ok":true}'))
            elif method == "GET":
                parts = urlsplit(target)
                start_at = int(parse_qs(parts.query).get("from", ["0"])[0])
                if parts.path == "/counts":
                    answer = {"posts": len(records.posts), "mails": len(records.mails)}
                    writer.write(_response("200 OK", orjson.dumps(answer)))
                elif parts.path in ("/posts", "/mails"):
                    kept = records.posts if parts.path == "/posts" else records.mails
                    writer.write(_response("200 OK", orjson.dumps(kept[start_at:])))
                else:
                    writer.write(_response("200 OK", b'{"status":"ok"}'))
            else:
                writer.write(_response("405 Method Not Allowed", b"{}"))
            await writer.drain()
    finally:
        writer.close()


async def _smtp(
    records: Records, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Just enough of RFC 5321 for a client that sends one message per connection."""
    writer.write(b"220 bench-sink ESMTP\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"DATA":
                writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                await writer.drain()
                notification = None
                in_headers = True
                while True:
                    data = await reader.readline()
                    if not data or data == b".\r\n":
                        break
                    if in_headers:
                        if data in (b"\r\n", b"\n"):
                            in_headers = False
                        elif data[:23].lower() == b"x-cop-notification-id:":
                            notification = data[23:].strip().decode("latin-1")
                records.mails.append([now(), notification])
                writer.write(b"250 OK\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


async def serve(host: str, http_port: int, smtp_port: int) -> None:
    records = Records()
    http = await asyncio.start_server(
        lambda r, w: _http(records, r, w), host, http_port, backlog=1024
    )
    smtp = await asyncio.start_server(
        lambda r, w: _smtp(records, r, w), host, smtp_port, backlog=1024
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    print(f"bench sink: chat on {host}:{http_port}, SMTP on {host}:{smtp_port}", flush=True)
    async with http, smtp:
        await stopping.wait()


# --- the benchmark's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sink:
    name: str
    http_port: int
    smtp_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def counts(self, client: httpx.AsyncClient) -> tuple[int, int]:
        # Asked every 100 ms for minutes: a pooled connection dropped under load is asked again
        # on a fresh one rather than voiding the run.
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(httpx.TransportError),
            stop=stop_after_attempt(3),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                got = (await client.get(f"{self.url}/counts")).json()
        return int(got["posts"]), int(got["mails"])

    async def posts(self, client: httpx.AsyncClient, start_at: int = 0) -> list[list[Any]]:
        response = await client.get(f"{self.url}/posts", params={"from": start_at}, timeout=60)
        return list(orjson.loads(response.content))

    async def mails(self, client: httpx.AsyncClient, start_at: int = 0) -> list[list[Any]]:
        response = await client.get(f"{self.url}/mails", params={"from": start_at}, timeout=60)
        return list(orjson.loads(response.content))


@contextlib.asynccontextmanager
async def running_sink(http_port: int, smtp_port: int) -> AsyncIterator[Sink]:
    """The sink as a process (stopped on the way out, whatever happens)."""
    name = f"bench-{uuid.uuid4().hex[:6]}-sink"
    ports = ["--http-port", str(http_port), "--smtp-port", str(smtp_port)]
    argv = [sys.executable, "-m", "bench.sink_server", *ports]
    proc = start(name, argv, cwd=REPO_ROOT)
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: port_open("127.0.0.1", http_port) and port_open("127.0.0.1", smtp_port),
            timeout_s=20,
            what=f"bench sink on :{http_port} and :{smtp_port}",
            process=proc,
        )
        yield Sink(name, http_port, smtp_port)
    finally:
        await asyncio.to_thread(stop, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.http_port, args.smtp_port))


if __name__ == "__main__":
    main()
