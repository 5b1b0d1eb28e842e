"""E-mail bodies rendered from the Jinja2 templates in `services/notifier/templates/`.

HTML is autoescaped, so member text (a kudos message, a session title) can never inject markup.
"""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifier.domain.content import Message
from services.notifier.domain.messages import EmailContent, one_line

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def email_content(
    message: Message,
    *,
    name: str,
    community_id: str,
    preferences_url: str,
    unsubscribe_url: str | None,
) -> EmailContent:
    context = {
        "message": message,
        "name": name,
        "community_id": community_id,
        "preferences_url": preferences_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return EmailContent(
        subject=one_line(message.subject),
        text=_TEMPLATES.get_template("notice.txt.j2").render(context),
        html=_TEMPLATES.get_template("notice.html.j2").render(context),
    )
