"""How recognition applies the events it consumes: one handler per event type, listed at the end."""

from services.recognition.adapters.projection import RecognitionProjection, RecognitionWrites
from services.recognition.domain.kudos import KudosPolicy, judge_recorded
from shared.events.catalog import KudosGiven
from shared.messagebus import EventHandlers, Fact, Handler


def kudos_given(policy: KudosPolicy) -> Handler[KudosGiven, RecognitionWrites]:
    async def handle(fact: Fact[KudosGiven], uow: RecognitionWrites) -> None:
        """A recorded kudos is never refused, only judged: counted for some, not for others."""
        kudos = fact.data
        verdict = judge_recorded(kudos.from_id, kudos.to_ids, kudos.value_tag, policy)
        uow.record_kudos(
            {
                "_id": kudos.kudos_id,
                **kudos.model_dump(mode="json"),
                "event_id": fact.event_id,
                "given_at": fact.time,
                "counted_for": list(verdict.counted),
                "not_counted": verdict.not_counted,
            }
        )
        uow.tally_given(kudos.from_id, kudos.kudos_id)
        for member in verdict.counted:
            uow.tally_received(member, kudos.kudos_id, fact.time)

    return handle


def event_handlers(
    projection: RecognitionProjection, policy: KudosPolicy
) -> EventHandlers[RecognitionWrites]:
    """Every event type recognition applies, and its handler."""
    return EventHandlers("recognition", projection.unit_of_work).on(KudosGiven, kudos_given(policy))
