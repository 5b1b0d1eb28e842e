"""What a notification says in chat, and the parts of an e-mail. No I/O."""

from dataclasses import dataclass
from typing import Any


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


def value_label(value_tag: str) -> str:
    """`knowledge_sharing` -> `knowledge sharing`."""
    return value_tag.replace("_", " ")


def _mrkdwn_escape(text: str) -> str:
    """Slack control characters: no `<!channel>` pings or disguised links from member text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _no_mentions(text: str) -> str:
    """Mattermost: a zero-width space after `@` keeps `@all` or `@channel` from pinging."""
    return text.replace("@", "@\u200b")


def chat_payload(
    kind: str, content: ChatContent, *, event: dict[str, Any], channel: str | None = None
) -> dict[str, Any]:
    """The JSON body each kind of incoming webhook expects; `channel` (Slack and Mattermost)
    names the channel a workspace's webhook posts to."""
    named = {"channel": channel} if channel else {}
    if kind == "slack":
        return {
            **named,
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
        return {**named, "text": _no_mentions(f"#### {content.title}\n{content.text}")}
    return {
        "title": content.title,
        "text": content.text,
        "facts": content.facts,
        "event": event,
    }
