"""Local stand-ins for a mail relay and a chat service, so notifications can be read as files.

- SMTP sink: a real SMTP server (aiosmtpd) that stores each message as `<dir>/<time>-<n>.eml`.
- Chat webhook sink: an HTTP server that stores each POST as `<dir>/<time>-<n>.json`
  (`{"path", "headers", "body"}`), answering 200 like an incoming webhook would.

Run: `python -m copctl.devstack.sinks smtp --port 1025 --out .local/mail`
     `python -m copctl.devstack.sinks chat --port 8090 --out .local/chat`
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_counter = itertools.count(1)


def store_atomically(directory: Path, suffix: str, content: bytes) -> Path:
    """Write to a temporary name, then rename: readers never see half a file."""
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(_counter):06d}{suffix}"
    tmp = directory / f".{name}.tmp"
    tmp.write_bytes(content)
    final = directory / name
    tmp.rename(final)
    return final


class MailboxHandler:
    def __init__(self, out: Path) -> None:
        self._out = out

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        store_atomically(self._out, ".eml", content)
        return "250 Message accepted for delivery"


def run_smtp(host: str, port: int, out: Path) -> None:
    controller = Controller(MailboxHandler(out), hostname=host, port=port)
    controller.start()
    print(f"SMTP sink on {host}:{port} -> {out}", flush=True)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


def chat_app(out: Path) -> Starlette:
    async def receive(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        record = {
            "path": request.url.path,
            "headers": {k: v for k, v in request.headers.items() if k.lower() != "host"},
            "body": body,
        }
        store_atomically(out, ".json", json.dumps(record, indent=2).encode())
        return JSONResponse({"ok": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", health, methods=["GET"]),
            Route("/{path:path}", receive, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["smtp", "chat"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.kind == "smtp":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        run_smtp(args.host, args.port, args.out)
    else:
        config = uvicorn.Config(
            chat_app(args.out), host=args.host, port=args.port, log_level="warning"
        )
        asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
