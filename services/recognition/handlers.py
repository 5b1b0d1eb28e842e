"""Recognition's commands: give kudos. Its event handlers are in `event_handlers.py`."""

import uuid
from dataclasses import dataclass

from services.recognition.adapters.allowance import AllowanceCounter
from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.domain.kudos import KudosPolicy, allowance_period
from shared.events.catalog import KudosGiven
from shared.events.envelope import CloudEvent, new_event, utc_now
from shared.kafka import EventBus

SOURCE = "cop/recognition"


@dataclass(frozen=True)
class GiveKudos:
    from_id: str
    to_ids: list[str]
    community_id: str
    message: str
    value_tag: str
    session_id: str | None = None
    artifact_id: str | None = None


class RecognitionHandlers:
    def __init__(
        self,
        bus: EventBus,
        policy: KudosPolicy,
        allowance: AllowanceCounter,
        projection: RecognitionProjection,
    ) -> None:
        self._bus = bus
        self._policy = policy
        self._allowance = allowance
        self.projection = projection

    async def give_kudos(self, cmd: GiveKudos) -> CloudEvent:
        """Check the policy, take one from the giver's allowance, publish `kudos.given`."""
        self._policy.check_request(cmd.from_id, cmd.to_ids, cmd.value_tag)
        now = utc_now()
        period = allowance_period(now)
        used = await self._allowance.take(cmd.from_id, period)
        try:
            self._policy.check_allowance(used)
            event = new_event(
                KudosGiven(
                    kudos_id=str(uuid.uuid4()),
                    from_id=cmd.from_id,
                    to_ids=cmd.to_ids,
                    community_id=cmd.community_id,
                    message=cmd.message,
                    value_tag=cmd.value_tag,
                    session_id=cmd.session_id,
                    artifact_id=cmd.artifact_id,
                ),
                source=SOURCE,
                time=now,
            )
            await self._bus.publish(event)
        except BaseException:
            await self._allowance.give_back(cmd.from_id, period)
            raise
        return event
