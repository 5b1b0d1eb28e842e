"""What a member does on the topic backlog's page, with their own token: propose a topic, vote
for one and take the vote back; the leader and core members schedule a topic as a session or
decline it. The events service decides; a refusal comes back by field (`form` when it names
none), and every call waits until the backlog shows its effect, so the page read next does."""

from collections.abc import Mapping
from typing import Any

from services.web.adapters.upstream import Ok, Upstreams
from services.web.commands.replies import form_errors
from services.web.domain.topics import DECLINE_FIELDS, PROPOSE_FIELDS, SCHEDULE_FIELDS

WAIT = {"wait": "true"}


class BacklogCommands:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def _create(
        self,
        token: str,
        path: str,
        body: Mapping[str, Any],
        idempotency_key: str,
        fields: tuple[str, ...],
        created: str,
    ) -> tuple[str | None, dict[str, str]]:
        """The id the answer names as `created`, or what is wrong by field."""
        reply = await self.up.post(
            "events", path, body, token=token, params=WAIT,
            headers={"idempotency-key": idempotency_key},
        )  # fmt: skip
        errors = form_errors(reply, fields)
        return (str(reply.data[created]), {}) if isinstance(reply, Ok) else (None, errors)

    async def propose(
        self, token: str, community_id: str, body: Mapping[str, Any], idempotency_key: str
    ) -> tuple[str | None, dict[str, str]]:
        """The new topic's id, or what is wrong by field."""
        path = f"/communities/{community_id}/topics"
        return await self._create(token, path, body, idempotency_key, PROPOSE_FIELDS, "topic_id")

    async def vote(self, token: str, topic_id: str) -> dict[str, str]:
        """Why the vote was refused (over the budget, the topic not open, not a member)."""
        reply = await self.up.put(
            "events", f"/topics/{topic_id}/vote", {}, token=token, params=WAIT
        )
        return form_errors(reply, ())

    async def take_back(self, token: str, topic_id: str) -> dict[str, str]:
        reply = await self.up.delete("events", f"/topics/{topic_id}/vote", token=token, params=WAIT)
        return form_errors(reply, ())

    async def schedule(
        self, token: str, topic_id: str, body: Mapping[str, Any], idempotency_key: str
    ) -> tuple[str | None, dict[str, str]]:
        """The id of the session the topic became, or what is wrong by field."""
        path = f"/topics/{topic_id}/schedule"
        return await self._create(token, path, body, idempotency_key, SCHEDULE_FIELDS, "session_id")

    async def decline(self, token: str, topic_id: str, reason: str) -> dict[str, str]:
        reply = await self.up.post(
            "events", f"/topics/{topic_id}/decline", {"reason": reason}, token=token, params=WAIT
        )
        return form_errors(reply, DECLINE_FIELDS)
