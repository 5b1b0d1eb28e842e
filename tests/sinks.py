"""The SMTP and chat webhook sinks as real processes on free ports, writing into a test folder."""

import contextlib
import email
import email.policy
import itertools
import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from copctl.devstack.processes import stop
from copctl.devstack.stack import start_sinks

# Ports for the processes tests start, from a block of each test worker's own, below the
# kernel's ephemeral range (32768 and up). A port the kernel hands out for `bind(0)` is free only
# until a process starts and binds it seconds later: another worker may be handed the same one
# meanwhile, and a service then answers on another's port. Blocks of 1,000 from 20,000 keep clear
# of the fixed ports of the local and the fault suite's stack.
_BLOCK = 1_000
_FIRST = 20_000
_BLOCKS = 12
_next_port = itertools.count()


def free_port() -> int:
    """A port free now that no other test worker hands out."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    block = int(worker[2:]) + 1 if worker.startswith("gw") else 0
    start = _FIRST + (block % _BLOCKS) * _BLOCK
    for _ in range(_BLOCK):
        port = start + next(_next_port) % _BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {start}..{start + _BLOCK - 1}")


@dataclass(frozen=True)
class Sinks:
    smtp_port: int
    chat_port: int
    mail_dir: Path
    chat_dir: Path

    @property
    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.chat_port}/hooks/cop"

    def mails(self) -> list[EmailMessage]:
        found = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails() if address in str(m["To"])]

    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.chat_dir.glob("*.json"))]


@contextlib.contextmanager
def running_sinks(base: Path) -> Iterator[Sinks]:
    prefix = f"test-{uuid.uuid4().hex[:6]}-"
    sinks = Sinks(free_port(), free_port(), base / "mail", base / "chat")
    try:
        start_sinks(
            smtp_port=sinks.smtp_port,
            chat_port=sinks.chat_port,
            prefix=prefix,
            mail=sinks.mail_dir,
            chat=sinks.chat_dir,
        )
        yield sinks
    finally:
        stop(f"{prefix}smtp-sink")
        stop(f"{prefix}chat-sink")
