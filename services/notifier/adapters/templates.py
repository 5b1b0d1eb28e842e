"""E-mail bodies rendered from the Jinja2 templates in `services/notifier/templates/`.

HTML is autoescaped, so member text (a kudos message) can never inject markup.
"""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifier.domain.messages import EmailContent, one_line, value_label
from shared.events.catalog import KudosGiven

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def kudos_email(
    kudos: KudosGiven, *, recipient_name: str, giver_name: str, profile_url: str
) -> EmailContent:
    context = {
        "recipient_name": recipient_name,
        "giver_name": giver_name,
        "value_tag_label": value_label(kudos.value_tag),
        "community_id": kudos.community_id,
        "message": kudos.message,
        "profile_url": profile_url,
    }
    return EmailContent(
        subject=one_line(f"{giver_name} gave you kudos for {value_label(kudos.value_tag)}"),
        text=_TEMPLATES.get_template("kudos.txt.j2").render(context),
        html=_TEMPLATES.get_template("kudos.html.j2").render(context),
    )
