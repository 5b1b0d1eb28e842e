"""The impact service's command: give a service to a team (load, let the domain decide,
publish). Reads are in `queries.py`; the events it consumes in `event_handlers.py`."""

from datetime import UTC, datetime
from typing import Protocol

from services.impact.domain import ownership
from services.impact.domain.ownership import Owners
from shared.events.envelope import CloudEvent
from shared.kafka import Emitter
from shared.keys import field_key
from shared.waiting import wait_until

SOURCE = "cop/impact"


class ServiceOwners(Protocol):
    async def owners(self, service_id: str) -> Owners: ...

    async def has_owner_change(self, service_id: str, key: str) -> bool: ...


class ImpactCommands:
    def __init__(self, bus: Emitter, owners: ServiceOwners, wait_timeout_s: float = 10.0) -> None:
        self._bus = bus
        self._owners = owners
        self._wait_timeout_s = wait_timeout_s

    async def assign_owner(
        self, service_id: str, team: str, since: datetime | None, by: str
    ) -> CloudEvent | None:
        """Publish the service's new owner; None when the team owns it already (and no
        `since` was given): nothing to change."""
        owners = await self._owners.owners(service_id)
        decided = ownership.assign(owners, service_id, team, since, by, datetime.now(UTC))
        if decided is None:
            return None
        return await self._bus.emit(decided, source=SOURCE)

    async def wait_for_owner(self, service_id: str, event_id: str) -> bool:
        """Until the projection shows the owner change of `event_id` (False after the wait)."""
        key = field_key(event_id)
        return await wait_until(
            lambda: self._owners.has_owner_change(service_id, key), timeout_s=self._wait_timeout_s
        )
