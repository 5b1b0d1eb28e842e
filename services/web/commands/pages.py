"""What a signed-in member does from the pages, sent to the service that decides it with the
member's own token: the web service decides nothing itself, so a page can never let anyone do
what the API refuses."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.web.adapters.upstream import Ok, Upstreams
from services.web.commands.replies import form_errors, refusal
from services.web.domain.forms import KUDOS_CODE_FIELDS, PREFERENCE_FIELDS

KUDOS_FIELDS = ("to_ids", "community_id", "value_tag", "message")


@dataclass(frozen=True)
class KudosForm:
    to: str = ""
    community_id: str = ""
    value_tag: str = ""
    message: str = ""

    def recipients(self) -> list[str]:
        return [r for r in (p.strip() for p in self.to.replace(";", ",").split(",")) if r]

    def body(self) -> dict[str, Any]:
        return {
            "to_ids": self.recipients(),
            "community_id": self.community_id.strip(),
            "value_tag": self.value_tag.strip(),
            "message": self.message,
        }


@dataclass(frozen=True)
class Outcome:
    """The policy's answer: the kudos as judged (`kudos`), or what is wrong, by field."""

    kudos: Mapping[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)


class PageCommands:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def give_kudos(self, token: str, form: KudosForm, idempotency_key: str) -> Outcome:
        """Sent once however often the member submits the same form (the key comes with it);
        waits for the judgement so the page can show whether it counted."""
        key = idempotency_key or str(uuid.uuid4())
        reply = await self.up.post(
            "recognition",
            "/kudos",
            form.body(),
            token=token,
            params={"wait": "true"},
            headers={"idempotency-key": key},
        )
        if not isinstance(reply, Ok):
            return Outcome(errors=form_errors(reply, KUDOS_FIELDS, KUDOS_CODE_FIELDS))
        kudos_id = reply.data["kudos_id"]
        judged = await self.up.get("recognition", f"/kudos/{kudos_id}")
        if isinstance(judged, Ok):
            return Outcome(kudos=judged.data)
        return Outcome(kudos={"kudos_id": kudos_id, "status": "pending"})

    async def save_preferences(
        self, token: str, member_id: str, body: Mapping[str, Any]
    ) -> dict[str, str]:
        """Store the member's notification preferences; what is wrong, by field (none: saved)."""
        reply = await self.up.put(
            "notifier", f"/members/{member_id}/preferences", body, token=token
        )
        return form_errors(reply, PREFERENCE_FIELDS)

    async def act(self, token: str, service: str, path: str, body: Mapping[str, Any]) -> str | None:
        """One action in the member's name, waited for until applied; why it was refused (a
        sentence for the page), or None when done."""
        reply = await self.up.post(service, path, body, token=token, params={"wait": "true"})
        return refusal(reply)
