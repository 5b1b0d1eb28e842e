"""Control characters in names and subjects never reach e-mail headers raw."""

import email
import email.policy

import pytest

from services.notifier.adapters.email import Mail, SmtpSender, header_text
from services.notifier.domain.messages import EmailContent

SENDER = SmtpSender(host="smtp.invalid", port=25, mail_from="CoP <noreply@cop.example.com>")
# NUL, ESC (with a terminal colour sequence), BEL, DEL, C1 CSI, a right-to-left override
CONTROLS = ["\x00", "\x1b[31m", "\x07", "\x7f", "\x9b", "\u202e"]


def build(to_name: str, subject: str) -> Mail:
    content = EmailContent(subject=subject, text="t", html="<p>h</p>")
    return SENDER.build(
        to_name=to_name, to_email="bob@example.com", content=content, notification_id="n1"
    )


def header_bytes(message: Mail) -> bytes:
    return message.data.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize("control", CONTROLS)
def test_control_characters_in_the_recipient_name_and_subject_are_dropped(control: str) -> None:
    message = build(f"Bob{control} Builder", f"Ann{control} gave you kudos")

    raw = header_bytes(message)
    assert not any(b < 0x20 or b == 0x7F for b in raw.replace(b"\r\n", b""))
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    printable = control.lstrip("\x1b") if control.startswith("\x1b") else ""
    (address,) = parsed["To"].addresses
    assert address.display_name == f"Bob{printable} Builder"
    assert parsed["Subject"] == f"Ann{printable} gave you kudos"


def test_line_breaks_and_tabs_become_one_space_and_add_no_header() -> None:
    message = build("Eve\r\n\tBcc: evil@x.example", "Hi\x85\u2028Bcc: evil@x.example")

    raw = header_bytes(message)
    assert not any(line.lower().startswith(b"bcc:") for line in raw.splitlines())
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert parsed["Subject"] == "Hi Bcc: evil@x.example"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A\x00n\x07n", "Ann"),
        ("Ann\x1b[2J", "Ann[2J"),
        ("Ann\r\nLee", "Ann Lee"),
        ("\u202eAnn\u202c", "Ann"),
        ("Zoë 👩\u200d💻", "Zoë 👩\u200d💻"),  # joiners in emoji are kept
        ("x" * 300, "x" * 200),
    ],
)
def test_header_text(value: str, expected: str) -> None:
    assert header_text(value) == expected
