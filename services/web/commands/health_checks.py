"""What a member does on the self-assessment pages, with their own token: a leader opens and
closes a round, a member answers it. Recognition decides; a refusal comes back by field."""

from collections.abc import Mapping
from typing import Any

from services.web.adapters.upstream import Ok, Upstreams
from services.web.commands.replies import form_errors, refusal

ROUND_FIELDS = ("template", "closes_at", "min_respondents", "extra_cards")
ANSWER_FIELDS = ("cards",)


class HealthCheckCommands:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def open_round(
        self, token: str, community_id: str, body: Mapping[str, Any], idempotency_key: str
    ) -> tuple[str | None, dict[str, str]]:
        """The new round's id, or what is wrong by field."""
        reply = await self.up.post(
            "recognition",
            f"/communities/{community_id}/health-checks",
            body,
            token=token,
            params={"wait": "true"},
            headers={"idempotency-key": idempotency_key},
        )
        if isinstance(reply, Ok):
            return str(reply.data["round_id"]), {}
        return None, form_errors(reply, ROUND_FIELDS)

    async def answer(self, token: str, round_id: str, body: Mapping[str, Any]) -> dict[str, str]:
        """The member's answers, replacing earlier ones; what is wrong by field (none: saved)."""
        if not body.get("cards"):
            return {"cards": "give at least one card a colour"}
        reply = await self.up.put(
            "recognition", f"/health-checks/{round_id}/answers", body, token=token
        )
        return form_errors(reply, ANSWER_FIELDS)

    async def close(self, token: str, round_id: str) -> str | None:
        """Why the round could not be closed, or None once its results show."""
        reply = await self.up.post(
            "recognition", f"/health-checks/{round_id}/close", {}, token=token,
            params={"wait": "true"},
        )  # fmt: skip
        return refusal(reply)
