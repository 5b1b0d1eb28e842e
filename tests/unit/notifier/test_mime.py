"""The e-mail bytes the notifier writes itself read back the same through the standard library's
parser: every header, both bodies and the attachment, for any text a member can give."""

import email
from email import policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.adapters.email import SmtpSender, header_text
from services.notifier.adapters.mime import Attachment, encoded_header, mime_message
from services.notifier.domain.messages import EmailContent

SENDER = SmtpSender(host="relay", port=25, mail_from="CoP Platform <cop@example.org>")
texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=300)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def lines_of(data: bytes) -> list[bytes]:
    assert b"\n" not in data.replace(b"\r\n", b""), "every line ends with CRLF"
    return data.split(b"\r\n")


@settings(max_examples=200, deadline=None)
@given(name=texts, subject=texts, body=texts)
def test_any_member_text_reads_back_as_it_was_made_safe(name: str, subject: str, body: str) -> None:
    content = EmailContent(subject=subject, text=body, html=f"<p>{body}</p>")
    mail = SENDER.build(
        to_name=name, to_email="grace@example.org", content=content, notification_id="n-1"
    )
    message = parsed(mail.data)
    assert str(message["Subject"]) == header_text(subject)
    assert message["To"].addresses[0].display_name == header_text(name, 100)
    assert message["To"].addresses[0].addr_spec == "grace@example.org"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == body
    assert html.get_content() == f"<p>{body}</p>"
    assert all(len(line) <= 998 for line in lines_of(mail.data))


@given(value=texts)
def test_encoded_words_stay_within_their_length_and_decode_to_the_text(value: str) -> None:
    safe = header_text(value)
    encoded = encoded_header(safe)
    for line in encoded.split("\r\n "):
        assert len(line) <= 75 or safe.isascii()
    header = parsed(f"Subject: {encoded}\r\n\r\n".encode())["Subject"]
    assert str(header) == safe


def test_identity_and_list_headers_and_envelope() -> None:
    content = EmailContent(subject="Kudos", text="Thanks", html="<p>Thanks</p>")
    mail = SENDER.build(
        to_name="Grace",
        to_email="grace@example.org",
        content=content,
        notification_id="delivery-42",
        headers=(("List-Unsubscribe", "<https://cop.example.org/unsubscribe?token=t>"),),
    )
    again = SENDER.build(
        to_name="Grace",
        to_email="grace@example.org",
        content=content,
        notification_id="delivery-42",
    )
    message = parsed(mail.data)
    assert mail.recipient == "grace@example.org"
    assert mail.notification_id == "delivery-42"
    assert message["From"] == "CoP Platform <cop@example.org>"
    assert message["X-Cop-Notification-Id"] == "delivery-42"
    assert message["Message-ID"] == parsed(again.data)["Message-ID"], "the same on every attempt"
    assert message["Message-ID"].endswith("@example.org>")
    assert message["List-Unsubscribe"] == "<https://cop.example.org/unsubscribe?token=t>"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"]


def test_an_attachment_rides_beside_the_alternatives() -> None:
    invite = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    data = mime_message(
        (("Subject", "Session"),),
        text="See you",
        html="<p>See you</p>",
        attachment=Attachment(invite, 'text/calendar; charset="utf-8"; method=REQUEST', "x.ics"),
    )
    message = parsed(data)
    assert message.get_content_type() == "multipart/mixed"
    calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_filename() == "x.ics"
    assert calendar.get_content().encode() == invite
    plain = message.get_body(("plain",))
    assert plain is not None
    assert plain.get_content() == "See you"
