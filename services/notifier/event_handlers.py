"""The event types the notifier reacts to, and the handler of each."""

from services.notifier.handlers import NotifierHandlers
from shared.events.catalog import KudosGiven, MemberProfileUpdated
from shared.messagebus import EventHandlers


class DeliveryWork:
    """The notifier's unit of work: each delivery is claimed and recorded as it goes (a send
    cannot be rolled back), so a batch has nothing left to write at its end."""

    def handled(self, event_id: str, event_type: str) -> None:
        pass

    async def commit(self) -> None:
        pass


def event_handlers(notifier: NotifierHandlers) -> EventHandlers[DeliveryWork]:
    """Every event type the notifier reacts to, and its handler."""
    return (
        EventHandlers("notifier", DeliveryWork, tracer=notifier.tracer)
        .on(MemberProfileUpdated, notifier.profile_updated)
        .on(KudosGiven, notifier.kudos_given)
    )
