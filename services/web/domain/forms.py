"""What a refused form says, and next to which field: from a service's problem+json. Pure."""

from collections.abc import Mapping
from typing import Any

# Refusals of the kudos policy name no field of their own; this is where a member looks.
KUDOS_CODE_FIELDS = {
    "self_kudos": "to_ids",
    "duplicate_recipient": "to_ids",
    "unknown_value_tag": "value_tag",
    "allowance_exhausted": "form",
}


def field_errors(
    problem: Mapping[str, Any], fields: tuple[str, ...], codes: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map a problem+json to {form field: message}; what names no known field goes to `form`.

    A 422 lists `errors` naming `body.<field>`; a refusal by a rule carries a `code` (mapped by
    `codes`) and a `detail`."""
    errors: dict[str, str] = {}
    for error in problem.get("errors") or []:
        name = str(error.get("field", "")).removeprefix("body.").split(".")[0]
        key = name if name in fields else "form"
        message = str(error.get("message", "is not valid"))
        errors[key] = f"{errors[key]}; {message}" if key in errors else message
    if not errors:
        code = str(problem.get("code", ""))
        key = (codes or {}).get(code, "form")
        errors[key] = str(problem.get("detail") or problem.get("title") or "refused")
    return errors


LEVELS = ("watching", "digest", "muted")
PREFERENCE_FIELDS = ("email", "communities", "tags", "digest", "quiet_hours")


def preferences_body(fields: Mapping[str, str], community_ids: list[str]) -> dict[str, Any]:
    """The notifier's preferences from the form's fields: a level per community shown (`level:`
    fields; one left on "default" is not set), tags as a comma-separated list, quiet hours from
    two times (both or neither)."""
    levels = {c: fields[f"level:{c}"] for c in community_ids if fields.get(f"level:{c}") in LEVELS}
    tags = [t.strip().lstrip("#") for t in fields.get("tags", "").split(",") if t.strip()]
    start, end = fields.get("quiet_start", "").strip(), fields.get("quiet_end", "").strip()
    return {
        "email": fields.get("email") == "on",
        "communities": levels,
        "tags": tags,
        "digest": fields.get("digest") or "daily",
        "quiet_hours": {"start": start, "end": end} if start or end else None,
    }
