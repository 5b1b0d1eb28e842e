"""The events service's use cases."""

from services.events.adapters.members import MemberDirectory
from shared.consumer import ConsumedEvent
from shared.events.catalog import MemberProfileUpdated
from shared.events.envelope import CloudEvent, new_event
from shared.kafka import EventBus

SOURCE = "cop/events"


class EventsHandlers:
    def __init__(self, bus: EventBus, members: MemberDirectory) -> None:
        self._bus = bus
        self.members = members

    async def update_profile(self, profile: MemberProfileUpdated) -> CloudEvent:
        event = new_event(profile, source=SOURCE)
        await self._bus.publish(event)
        return event

    async def apply(self, batch: list[ConsumedEvent]) -> None:
        profiles = [
            (c.event.id, c.event.envelope.time, c.event.data)
            for c in batch
            if isinstance(c.event.data, MemberProfileUpdated)
        ]
        if profiles:
            await self.members.save_profiles(profiles)
