"""`copctl dev stop` and `copctl dev start` on real processes: the SMTP sink of a stack of its
own (a name prefix, a free port), stopped, started again the way it was launched, and serving."""

import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from copctl.devstack import stack
from copctl.devstack.processes import Instance, port_open, running, stop, wait_until
from tests.sinks import free_port

pytestmark = pytest.mark.integration


def _send(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", subject
    message.set_content("hello")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_the_smtp_sink_of_a_private_stack_stops_and_starts_again(tmp_path: Path) -> None:
    instance = Instance(prefix=f"devtest-{uuid.uuid4().hex[:6]}-")
    smtp_port, mail = free_port(), tmp_path / "mail"
    try:
        stack.start_sinks(
            smtp_port=smtp_port,
            chat_port=free_port(),
            prefix=instance.prefix,
            mail=mail,
            chat=tmp_path / "chat",
        )
        first = running(instance.name("smtp-sink"))
        assert first is not None

        assert stack.stop_one("smtp-sink", instance=instance) is True
        assert running(instance.name("smtp-sink")) is None
        wait_until(lambda: not port_open("127.0.0.1", smtp_port), timeout_s=10, what="port freed")
        assert stack.stop_one("smtp-sink", instance=instance) is False  # already stopped

        again = stack.start_one("smtp-sink", instance=instance)
        assert again.pid != first.pid
        assert running(instance.name("smtp-sink")) == again
        assert stack.start_one("smtp-sink", instance=instance) == again  # running: left as is
        _send(smtp_port, "after the restart")
        wait_until(
            lambda: any("after the restart" in p.read_text() for p in mail.glob("*.eml")),
            timeout_s=10,
            what="the mail in the sink's folder",
        )
        assert running(instance.name("chat-sink")) is not None  # the other sink was not touched
    finally:
        stop(instance.name("smtp-sink"))
        stop(instance.name("chat-sink"))
