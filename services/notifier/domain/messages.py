"""What a notification says, per channel: e-mail parts and chat payloads. No I/O."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.events.catalog import KudosGiven

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ChatContent:
    title: str
    text: str
    facts: dict[str, str]


def one_line(value: str, limit: int = 200) -> str:
    """Header-safe text: no line breaks (no header injection), bounded length."""
    return " ".join(value.split())[:limit]


def _label(value_tag: str) -> str:
    return value_tag.replace("_", " ")


def kudos_email(
    kudos: KudosGiven, *, recipient_name: str, giver_name: str, profile_url: str
) -> EmailContent:
    context = {
        "recipient_name": recipient_name,
        "giver_name": giver_name,
        "value_tag_label": _label(kudos.value_tag),
        "community_id": kudos.community_id,
        "message": kudos.message,
        "profile_url": profile_url,
    }
    return EmailContent(
        subject=one_line(f"{giver_name} gave you kudos for {_label(kudos.value_tag)}"),
        text=_TEMPLATES.get_template("kudos.txt.j2").render(context),
        html=_TEMPLATES.get_template("kudos.html.j2").render(context),
    )


def kudos_chat(kudos: KudosGiven, *, giver_name: str, recipient_names: list[str]) -> ChatContent:
    recipients = ", ".join(recipient_names)
    return ChatContent(
        title=one_line(f"Kudos for {recipients}", 150),  # Slack header blocks take 150 at most
        text=f"{giver_name} recognised {recipients} for {_label(kudos.value_tag)}: {kudos.message}",
        facts={
            "community": kudos.community_id,
            "value": _label(kudos.value_tag),
            "from": giver_name,
            "to": recipients,
        },
    )


def _mrkdwn_escape(text: str) -> str:
    """Slack control characters: no `<!channel>` pings or disguised links from member text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _no_mentions(text: str) -> str:
    """Mattermost: a zero-width space after `@` keeps `@all` or `@channel` from pinging."""
    return text.replace("@", "@\u200b")


def chat_payload(kind: str, content: ChatContent, *, event: dict[str, Any]) -> dict[str, Any]:
    """The JSON body each kind of incoming webhook expects."""
    if kind == "slack":
        return {
            "text": _mrkdwn_escape(content.text),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": content.title}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _mrkdwn_escape(content.text)},
                },
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"*{k}*: {_mrkdwn_escape(v)}"}
                        for k, v in content.facts.items()
                    ],
                },
            ],
        }
    if kind == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": content.title, "weight": "Bolder"},
                            {"type": "TextBlock", "text": content.text, "wrap": True},
                            {
                                "type": "FactSet",
                                "facts": [
                                    {"title": k, "value": v} for k, v in content.facts.items()
                                ],
                            },
                        ],
                    },
                }
            ],
        }
    if kind == "mattermost":
        return {"text": _no_mentions(f"#### {content.title}\n{content.text}")}
    return {
        "title": content.title,
        "text": content.text,
        "facts": content.facts,
        "event": event,
    }
