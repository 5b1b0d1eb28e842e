"""What a member does on the self-assessment pages, with their own token: a leader opens and
closes a round, a member answers it. Recognition decides; a refusal comes back by field."""

from collections.abc import Mapping
from typing import Any

from services.web.adapters.upstream import Down, Ok, Refused, Upstreams
from services.web.domain.forms import field_errors

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
        match reply:
            case Ok(data=data):
                return str(data["round_id"]), {}
            case Refused(problem=problem):
                return None, field_errors(problem, ROUND_FIELDS)
            case Down():
                return None, {"form": reply.message}
        raise AssertionError(reply)

    async def answer(self, token: str, round_id: str, body: Mapping[str, Any]) -> dict[str, str]:
        """The member's answers, replacing earlier ones; what is wrong by field (none: saved)."""
        if not body.get("cards"):
            return {"cards": "give at least one card a colour"}
        reply = await self.up.put(
            "recognition", f"/health-checks/{round_id}/answers", body, token=token
        )
        match reply:
            case Ok():
                return {}
            case Refused(problem=problem):
                return field_errors(problem, ANSWER_FIELDS)
            case Down():
                return {"form": reply.message}
        raise AssertionError(reply)

    async def close(self, token: str, round_id: str) -> str | None:
        """Why the round could not be closed, or None once its results show."""
        reply = await self.up.post(
            "recognition", f"/health-checks/{round_id}/close", {}, token=token,
            params={"wait": "true"},
        )  # fmt: skip
        match reply:
            case Ok():
                return None
            case Refused():
                return reply.detail
            case Down():
                return reply.message
        raise AssertionError(reply)
