"""What a page shows of a service's answer to a member's action: what is wrong by form field
(nothing: done), or one sentence saying why it was not done (None: done)."""

from collections.abc import Mapping

from services.web.adapters.upstream import Down, Ok, Refused, Reply
from services.web.domain.forms import field_errors


def form_errors(
    reply: Reply, fields: tuple[str, ...], codes: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A refusal by field (`form` for what names none of `fields`); a service that does not
    answer is the form's error."""
    match reply:
        case Ok():
            return {}
        case Refused(problem=problem):
            return field_errors(problem, fields, codes)
        case Down():
            return {"form": reply.message}
    raise AssertionError(reply)


def refusal(reply: Reply) -> str | None:
    """Why the action was not done, as a sentence for the page; None when it was."""
    match reply:
        case Ok():
            return None
        case Refused():
            return reply.detail
        case Down():
            return reply.message
    raise AssertionError(reply)
