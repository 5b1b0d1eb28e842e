"""What notifications say and how they are addressed: escaping, header safety, allowlist, HMAC."""

import email
import email.policy
import hashlib
import hmac
from email.message import EmailMessage
from typing import Any

import pytest

from services.notifier.adapters.chat import sign
from services.notifier.adapters.email import Mail, SmtpSender
from services.notifier.adapters.templates import email_content
from services.notifier.adapters.webhook_targets import TargetPolicy
from services.notifier.domain.content import message as notice
from services.notifier.domain.messages import (
    ChatContent,
    EmailContent,
    chat_payload,
    one_line,
)
from shared.events.catalog import KudosGiven

SCRIPT = "<script>alert('x')</script>"
INJECTION = "Ann\r\nBcc: x@y.example"


def _kudos(message: str = "Thanks for the pairing & the review", **changes: Any) -> KudosGiven:
    data: dict[str, Any] = {
        "kudos_id": "k1",
        "from_id": "m1",
        "to_ids": ["m2"],
        "community_id": "testing-cop",
        "message": message,
        "value_tag": "knowledge_sharing",
    }
    data.update(changes)
    return KudosGiven.model_validate(data)


URLS = {"minutes": "m", "feedback": "f", "artifact": "a", "health": "h"}


def _email(
    message: str = f"Great demo {SCRIPT}", giver: str = "Ann", recipient: str = "Bob"
) -> EmailContent:
    context = {
        "kudos": _kudos(message).model_dump(mode="json"),
        "giver": giver,
        "recipients": recipient,
    }
    return email_content(
        notice("kudos", context, URLS),
        name=recipient,
        community_id="testing-cop",
        preferences_url="https://cop.example.com/members/m2/preferences?a=1&b=2",
        unsubscribe_url="https://cop.example.com/unsubscribe?token=t",
    )


# --- the e-mail of a kudos ---


def test_html_part_escapes_markup_in_the_message() -> None:
    mail = _email()

    assert SCRIPT not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert "<script" not in mail.html


def test_text_part_keeps_the_message_literally() -> None:
    mail = _email()

    assert f"Great demo {SCRIPT}" in mail.text
    assert "&lt;" not in mail.text


def test_html_part_escapes_names_and_ampersands() -> None:
    mail = _email("fish & chips", giver='Ann "the <i>"', recipient="Bob <b>")

    assert "Bob &lt;b&gt;" in mail.html
    assert "<i>" not in mail.html
    assert "fish &amp; chips" in mail.html
    assert 'href="https://cop.example.com/members/m2/preferences?a=1&amp;b=2"' in mail.html


def test_email_names_giver_value_community_and_links_in_both_parts() -> None:
    mail = _email()

    for part in (mail.text, mail.html):
        assert "Ann" in part
        assert "Bob" in part
        assert "knowledge sharing" in part
        assert "testing-cop" in part
        assert "https://cop.example.com/unsubscribe?token=t" in part


def test_subject_names_giver_and_value_label() -> None:
    assert _email().subject == "Ann gave kudos for knowledge sharing"


@pytest.mark.parametrize("giver", [INJECTION, "Ann\nBcc: x@y", "Ann\rBcc: x@y", "Ann\x0bX"])
def test_subject_has_no_line_breaks_even_when_the_giver_name_has_them(giver: str) -> None:
    subject = _email(giver=giver).subject

    assert "\r" not in subject
    assert "\n" not in subject
    assert "\x0b" not in subject
    assert subject.startswith("Ann ")


# --- one_line ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\r\nb", "a b"),
        ("  a \n\n b\t c  ", "a b c"),
        ("a\u2028b", "a b"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_one_line_collapses_all_whitespace_and_line_breaks(value: str, expected: str) -> None:
    assert one_line(value) == expected


def test_one_line_bounds_the_length() -> None:
    assert one_line("x" * 500) == "x" * 200
    assert one_line("abcdef", limit=3) == "abc"


# --- chat payloads ---

CHAT = ChatContent(
    title="Kudos for Bob",
    text="Ann recognised Bob for mentoring: <b>great</b> & more",
    facts={"community": "testing-cop", "from": "Ann <ann>"},
)
EVENT = {"id": "e1", "type": "cop.kudos.given.v1"}


def test_slack_payload_has_text_and_header_section_context_blocks() -> None:
    payload = chat_payload("slack", CHAT, event=EVENT)

    # The fallback text is escaped too: no `<!channel>` pings from member text.
    assert (
        payload["text"] == "Ann recognised Bob for mentoring: &lt;b&gt;great&lt;/b&gt; &amp; more"
    )
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Kudos for Bob"}
    assert blocks[1]["text"]["type"] == "mrkdwn"
    assert "event" not in payload


def test_slack_mrkdwn_escapes_control_characters() -> None:
    blocks = chat_payload("slack", CHAT, event=EVENT)["blocks"]

    assert blocks[1]["text"]["text"] == (
        "Ann recognised Bob for mentoring: &lt;b&gt;great&lt;/b&gt; &amp; more"
    )
    facts = [e["text"] for e in blocks[2]["elements"]]
    assert facts == ["*community*: testing-cop", "*from*: Ann &lt;ann&gt;"]


def test_teams_payload_is_an_adaptive_card_attachment() -> None:
    payload = chat_payload("teams", CHAT, event=EVENT)

    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    texts = [b.get("text") for b in card["body"]]
    assert CHAT.title in texts
    assert CHAT.text in texts
    (fact_set,) = [b for b in card["body"] if b["type"] == "FactSet"]
    assert fact_set["facts"] == [
        {"title": "community", "value": "testing-cop"},
        {"title": "from", "value": "Ann <ann>"},
    ]


def test_mattermost_payload_is_markdown_text_with_a_heading() -> None:
    payload = chat_payload("mattermost", CHAT, event=EVENT)

    assert payload == {"text": f"#### {CHAT.title}\n{CHAT.text}"}


def test_generic_webhook_payload_includes_the_event() -> None:
    payload = chat_payload("webhook", CHAT, event=EVENT)

    assert payload == {
        "title": CHAT.title,
        "text": CHAT.text,
        "facts": CHAT.facts,
        "event": EVENT,
    }


def test_kudos_chat_names_everyone_and_keeps_the_title_on_one_line() -> None:
    context = {
        "kudos": _kudos("well done", to_ids=["m2", "m3"]).model_dump(mode="json"),
        "giver": "Ann",
        "recipients": "Bob, Cy\nZ",
    }
    content = notice("kudos", context, URLS).chat()

    assert "\n" not in content.title
    assert content.title == "Kudos for Bob, Cy Z"
    assert content.text == "Ann recognised Bob, Cy\nZ for knowledge sharing: well done"
    assert content.facts == {
        "community": "testing-cop",
        "value": "knowledge sharing",
        "from": "Ann",
        "to": "Bob, Cy\nZ",
    }


# --- url_allowed: the webhook allowlist ---

ALLOWED = TargetPolicy(allowed_hosts=("hooks.slack.com", "*.example.com"))


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/x",
        "http://hooks.slack.com/x",
        "https://HOOKS.Slack.com/x",
        "https://chat.example.com/hooks/1",
        "https://a.b.example.com/hooks/1",
        "https://chat.example.com:8443/hooks/1",
    ],
)
def test_allowlisted_hosts_and_subdomains_are_allowed(url: str) -> None:
    assert ALLOWED.url_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil-example.com/x",
        "https://evilexample.com/x",
        "https://example.com.evil.net/x",
        "https://chat.example.com.evil.net/x",
        "https://hooks.slack.com.evil.net/x",
        "https://evil.hooks.slack.com/x",
        "https://hooks.slack.com@evil.net/x",
        "https://example.com/x",
        "https://127.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:8080/x",
        "https://teams.microsoft.com/x",
        "file://chat.example.com/etc/passwd",
        "ftp://chat.example.com/x",
        "gopher://hooks.slack.com/x",
        "hooks.slack.com/x",
        "https:///x",
        "",
    ],
)
def test_hosts_outside_the_allowlist_or_other_schemes_are_refused(url: str) -> None:
    assert not ALLOWED.url_allowed(url)


def test_empty_allowlist_allows_nothing() -> None:
    assert not TargetPolicy(allowed_hosts=()).url_allowed("https://hooks.slack.com/x")


# --- sign: HMAC-SHA256 over `timestamp.body` ---


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"text":"hi"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()

    assert sign("s3cret", "1700000000", body) == f"sha256={expected}"


def test_signature_changes_with_secret_timestamp_or_body() -> None:
    base = sign("s3cret", "1700000000", b"{}")

    assert sign("other", "1700000000", b"{}") != base
    assert sign("s3cret", "1700000001", b"{}") != base
    assert sign("s3cret", "1700000000", b"{ }") != base


# --- SmtpSender.build ---

SENDER = SmtpSender(host="smtp.invalid", port=25, mail_from="CoP <noreply@cop.example.com>")
CONTENT = EmailContent(subject="Ann gave you kudos", text="plain <script> text", html="<p>html</p>")


def _build(to_name: str = "Bob Builder", to_email: str = "bob@example.com") -> Mail:
    return SENDER.build(to_name=to_name, to_email=to_email, content=CONTENT, notification_id="n1")


def _reparsed(message: Mail) -> EmailMessage:
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_built_email_is_multipart_alternative_with_text_then_html() -> None:
    message = _reparsed(_build())

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == CONTENT.text
    assert parts[1].get_content().strip() == CONTENT.html


def test_built_email_is_addressed_to_the_recipient() -> None:
    message = _reparsed(_build())

    (address,) = message["To"].addresses
    assert address.addr_spec == "bob@example.com"
    assert address.display_name == "Bob Builder"
    assert message["From"] == "CoP <noreply@cop.example.com>"
    assert message["Subject"] == "Ann gave you kudos"
    assert message["X-Cop-Notification-Id"] == "n1"
    assert message["Message-ID"].endswith("@cop.example.com>")


@pytest.mark.parametrize("name", ["Eve\r\nBcc: evil@x.example", "Eve\nBcc: evil@x.example"])
def test_header_injection_in_the_recipient_name_adds_no_header(name: str) -> None:
    message = _reparsed(_build(to_name=name))

    assert message["Bcc"] is None
    assert message["Cc"] is None
    (address,) = message["To"].addresses
    assert address.addr_spec == "bob@example.com"
    assert "\n" not in address.display_name
    assert "\r" not in address.display_name
    assert not any(line.lower().startswith(b"bcc:") for line in message.as_bytes().splitlines())
    assert b"\r\nBcc:" not in _build(to_name=name).data


def test_recipient_name_with_address_syntax_stays_a_display_name() -> None:
    message = _reparsed(_build(to_name='Eve, "Mallory" <mallory@evil.example>'))

    (address,) = message["To"].addresses
    assert address.addr_spec == "bob@example.com"


def test_header_injection_in_the_recipient_address_is_refused() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        _build(to_email="bob@example.com\r\nBcc: evil@x.example")


def test_subject_with_line_breaks_is_flattened_in_the_message() -> None:
    content = EmailContent(subject="Hi\r\nBcc: evil@x.example", text="t", html="<p>h</p>")

    message = _reparsed(
        SENDER.build(
            to_name="Bob", to_email="bob@example.com", content=content, notification_id="n1"
        )
    )

    assert message["Subject"] == "Hi Bcc: evil@x.example"
    assert message["Bcc"] is None


def test_mattermost_text_cannot_mention_everyone() -> None:
    content = ChatContent(title="Kudos", text="thanks @all and @channel", facts={})
    text = chat_payload("mattermost", content, event=EVENT)["text"]
    assert "@all" not in text
    assert "@channel" not in text
