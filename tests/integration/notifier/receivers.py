"""A chat webhook receiver in the test process: it records every POST (arrival time, headers,
raw body) and answers what the test scripted (e.g. 500 twice, then 200).

Like the chat sink of `copctl.devstack.sinks`, it is a real HTTP server on a free loopback port,
so the notifier posts to it through its ordinary HTTP client; it runs in a thread
(`http.server`), not in the event loop the app under test uses.
"""

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Arrival:
    """One POST as it arrived, and what the receiver answered."""

    monotonic: float  # time.monotonic() when it arrived: for spacing
    wall: float  # time.time() when it arrived: for the signature's timestamp
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.raw)

    def verify_signature(self, secret: str, *, max_skew_s: float = 300.0) -> bool:
        """The check a receiver of signed (`webhook`) posts makes, as
        docs/notifier.md#chat-channels-and-signed-webhooks documents it."""
        timestamp = self.headers.get("x-cop-timestamp", "")
        signature = self.headers.get("x-cop-signature", "")
        if not timestamp.isdigit() or abs(self.wall - int(timestamp)) > max_skew_s:
            return False
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + self.raw, hashlib.sha256)
        return hmac.compare_digest("sha256=" + digest.hexdigest(), signature)


class Receiver:
    """Answers each POST with the next scripted status, or `status` once the script is used up."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.status = 200
        self._script: list[int] = []
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.url_for("/hooks/test")

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(self, times: int, status: int = 500) -> None:
        with self._lock:
            self._script.extend([status] * times)

    def answer_always(self, status: int) -> None:
        with self._lock:
            self._script.clear()
            self.status = status

    def arrivals(self, path: str | None = None) -> list[Arrival]:
        with self._lock:
            found = list(self._arrivals)
        return [a for a in found if path is None or a.path == path]

    def _arrived(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        monotonic, wall = time.monotonic(), time.time()
        with self._lock:
            status = self._script.pop(0) if self._script else self.status
            self._arrivals.append(Arrival(monotonic, wall, path, headers, raw, status))
        return status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver._arrived(self.path, headers, raw)
            answer = json.dumps({"ok": status < 400}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows what the test asserts

    return Handler


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(int(server.server_address[1]))
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="test-webhook-receiver")
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
