"""Member text cannot inject e-mail headers or markup, end to end: events on real Kafka carry a
member name, a session title and a kudos message with CR/LF + `Bcc:` and HTML; the notifier
(real MongoDB-protocol server and Redis) sends them through SMTP and to chat webhooks.

The e-mails go to the SMTP sink's mailbox handler run in the test process, which also keeps
each message's envelope recipients (`RCPT TO`): a `Bcc:` header the SMTP client read would add a
recipient there while leaving no trace in the stored message. The chat posts go to the chat
sink. `tests/unit/notifier/test_email_headers.py` checks the header sanitising itself.
"""

import email
import email.policy
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from copctl.devstack.sinks import MailboxHandler
from shared.documents import Doc
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database
from tests.integration.notifier.test_routing import (
    Notifier,
    address,
    html_of,
    invitation,
    joined,
    kudos_judged,
    led_community,
    mails,
    minute,
    new_id,
    one_mail,
    posts_of,
    profile,
    routing_settings,
    running,
    scheduled,
    text_of,
    until,
)
from tests.sinks import Sinks, free_port, running_sinks

pytestmark = pytest.mark.integration
INJECTED = "\r\nBcc: attacker@example.com"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
GIVER = f"Gia{INJECTED}\r\nSubject: you won {IMG}"
RECEIVER = f"Rae{INJECTED}\nX-Injected: yes {SCRIPT}"
TITLE = f"Threat modelling{INJECTED}\r\n\r\n{SCRIPT}{IMG}"
# Also an SMTP end-of-data and a second transaction: a body line must not end the message.
SMUGGLED = "\r\n.\r\nMAIL FROM:<attacker@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
MESSAGE = f"Thanks{INJECTED}\r\n\r\n{SCRIPT}{IMG} <!channel> @all{SMUGGLED}Subject: smuggled"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror=alert(2)&gt;"
TAG = re.compile(r"<\s*/?\s*(script|img)\b", re.IGNORECASE)


def one_line(value: str) -> str:
    """What a header or a chat title may carry of member text: line breaks as one space."""
    return " ".join(value.split())


# --- the SMTP sink's mailbox, with the envelopes ----------------------------------------------


class EnvelopeMailbox(MailboxHandler):
    """Stores each message in `out` as the SMTP sink does, and keeps its envelope recipients by
    Message-ID."""

    def __init__(self, out: Path, port: int) -> None:
        super().__init__(out)
        self.out, self.port = out, port
        self.recipients: dict[str, list[str]] = {}
        self.transactions = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.transactions += 1
        parsed = email.message_from_bytes(envelope.original_content or b"")
        self.recipients[str(parsed["Message-ID"])] = list(envelope.rcpt_tos)
        return str(await super().handle_DATA(server, session, envelope))


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvelopeMailbox]:
    handler = EnvelopeMailbox(tmp_path_factory.mktemp("email-content-mail"), free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def sinks(tmp_path_factory: pytest.TempPathFactory, mailbox: EnvelopeMailbox) -> Iterator[Sinks]:
    """The chat sink as a process; e-mail to the mailbox above."""
    with running_sinks(tmp_path_factory.mktemp("email-content-chat")) as chat:
        yield Sinks(mailbox.port, chat.chat_port, mailbox.out, chat.chat_dir)


@pytest.fixture
async def notifier(infra: Infrastructure, sinks: Sinks, unique: str) -> AsyncIterator[Notifier]:
    settings = routing_settings(infra, sinks, f"nsec{unique}")
    try:
        async with running(infra, settings) as started:
            yield started
    finally:
        await drop_database(infra, settings.mongodb_database)


# --- what a safe message looks like -----------------------------------------------------------


def header_names(mail: EmailMessage) -> list[str]:
    """The names of the header fields as sent (continuation lines belong to the field above)."""
    head = mail.as_bytes(policy=email.policy.SMTP).split(b"\r\n\r\n", 1)[0]
    return [
        line.split(b":", 1)[0].decode().lower()
        for line in head.split(b"\r\n")
        if line and not line[:1].isspace()
    ]


def assert_no_injected_header(
    mail: EmailMessage, mailbox: EnvelopeMailbox, to: str, subject: str
) -> None:
    names = header_names(mail)
    assert "bcc" not in names
    assert "x-injected" not in names
    assert names.count("subject") == 1
    assert names.count("to") == 1
    assert mail["Subject"] == one_line(subject)
    (recipient,) = mail["To"].addresses
    assert recipient.addr_spec == to
    assert "\n" not in recipient.display_name
    assert "\r" not in recipient.display_name
    assert mailbox.recipients[str(mail["Message-ID"])] == [to], "the recipient set changed"


def assert_html_escaped(mail: EmailMessage, *escaped: str) -> None:
    html = html_of(mail)
    assert TAG.search(html) is None, "member markup reached the HTML part raw"
    for text in escaped:
        assert text in html


def mrkdwn_texts(body: Doc) -> list[str]:
    """Every text of a Slack payload that Slack reads as mrkdwn (links, mentions, markup)."""
    texts = [body["text"]]
    for block in body["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        texts.extend(e["text"] for e in block.get("elements", []) if e["type"] == "mrkdwn")
    return texts


# --- the test ---------------------------------------------------------------------------------


async def test_member_text_adds_no_header_or_recipient_and_no_markup_by_mail_or_chat(
    notifier: Notifier, sinks: Sinks, mailbox: EnvelopeMailbox, unique: str
) -> None:
    community, leader = await led_community(notifier)
    base = f"http://127.0.0.1:{sinks.chat_port}"
    paths = {kind: f"/hooks/{kind}-{unique}" for kind in ("slack", "mattermost", "teams")}
    response = await notifier.client.put(
        f"/communities/{community}/channels",
        json={"channels": [{"id": k, "kind": k, "url": base + p} for k, p in paths.items()]},
        headers=bearer(leader),
    )
    assert response.status_code == 200, response.text
    giver, receiver = new_id("m"), new_id("m")
    await notifier.send(profile(giver, GIVER), profile(receiver, RECEIVER))
    await notifier.send(joined(community, receiver))
    await notifier.knows(profiles=[giver, receiver], community=community, members=[receiver])

    starts = minute(datetime.now(UTC)) + timedelta(days=2)
    session = scheduled(new_id("s"), community, starts, facilitator=leader, title=TITLE)
    counted = (receiver, "counted")
    in_community = kudos_judged(community, giver, counted, message=MESSAGE)  # its three channels
    elsewhere = kudos_judged(new_id("c"), giver, counted, message=MESSAGE)  # the generic webhook
    await notifier.send(session, in_community, elsewhere)

    # --- e-mail: one header of each, one recipient, the markup escaped
    to = address(receiver)
    invite = await one_mail(sinks, receiver, "New session: Threat modelling")
    kudos_subject = f"{GIVER} gave kudos for knowledge sharing"

    async def both_kudos() -> list[EmailMessage] | None:
        found = mails(sinks, receiver, one_line(kudos_subject))
        assert len(found) <= 2, f"{len(found)} kudos e-mails"
        return found if len(found) == 2 else None

    kudos_mails = await until(both_kudos, "the two kudos e-mails")
    assert_no_injected_header(invite, mailbox, to, f"New session: {TITLE}")
    assert_html_escaped(invite, ESCAPED_SCRIPT, ESCAPED_IMG)
    event = invitation(invite, "REQUEST")
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == [f"mailto:{to}"], "an attendee was added"
    assert str(event["SUMMARY"]).split() == TITLE.split()  # the title, as text of SUMMARY
    for mail in kudos_mails:
        assert_no_injected_header(mail, mailbox, to, kudos_subject)
        assert_html_escaped(mail, ESCAPED_SCRIPT, ESCAPED_IMG)
        assert "smuggled" not in str(mail["Subject"])
        assert "MAIL FROM:<attacker@example.com>" in text_of(mail), "the body was cut short"
    assert len(mails(sinks, receiver)) == 3
    assert mailbox.transactions == len(mailbox.recipients) == 3  # nothing smuggled in
    for recipients in mailbox.recipients.values():
        assert recipients == [to]

    # --- chat: each platform's markup from member text is escaped or inert
    def at(kind: str) -> list[Doc]:
        return [p["body"] for p in sinks.posts() if p["path"] == paths[kind]]

    async def everything_posted() -> bool:
        return all(len(at(k)) == 2 for k in paths) and bool(posts_of(sinks, elsewhere))

    await until(everything_posted, "two posts to each community channel and one to the default")

    titles = {one_line(TITLE), one_line(f"Kudos for {RECEIVER}")}
    for body in at("slack"):
        header = body["blocks"][0]
        assert header["type"] == "header"
        assert header["text"]["type"] == "plain_text"  # shown as written: no markup, no links
        assert header["text"]["text"] in titles
        for text in mrkdwn_texts(body):
            assert "<" not in text, f"raw `<` in Slack mrkdwn (a link or mention): {text!r}"
            assert ">" not in text
    (slack_kudos,) = [b for b in at("slack") if "Thanks" in b["text"]]
    assert ESCAPED_SCRIPT in slack_kudos["text"]
    assert "&lt;!channel&gt;" in slack_kudos["text"]

    for body in at("mattermost"):
        heading = body["text"].split("\n", 1)[0].replace("@\u200b", "@")
        assert heading.removeprefix("#### ") in titles, "the title is not one heading line"
        assert "@all" not in body["text"]
    (mattermost_kudos,) = [b for b in at("mattermost") if "Thanks" in b["text"]]
    assert "@\u200ball" in mattermost_kudos["text"]  # no channel-wide ping

    for body in at("teams"):
        title = body["attachments"][0]["content"]["body"][0]
        assert title["type"] == "TextBlock"  # Adaptive Cards render no HTML
        assert title["text"] in titles

    (generic,) = posts_of(sinks, elsewhere)
    assert generic["body"]["title"] == one_line(f"Kudos for {RECEIVER}")
    assert generic["headers"]["x-cop-signature"].startswith("sha256=")
    assert MESSAGE in generic["body"]["text"], "a JSON string carries the text as data"
