"""Who owns a service, and when: the rules of ownership, and the decision to change it.

- The first owner of a service (the first change made) owns all its facts, earlier ones
  included: history is often loaded after the catalog.
- A later change takes effect from its `since`, else from the moment it was made, and holds
  until the next change takes effect.
- A service without any owner belongs to no team: its facts are kept, and counted for the team
  that becomes its first owner.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.events.catalog import ServiceOwnerAssigned


@dataclass(frozen=True, order=True)
class OwnerChange:
    """One assignment, ordered by when it takes effect (then when it was made, then its event):
    `since`, else the moment it was made."""

    effective: datetime
    made_at: datetime
    key: str
    team: str


@dataclass(frozen=True)
class Owners:
    changes: tuple[OwnerChange, ...] = ()
    """The first change made, then the others in the order they take effect."""

    @classmethod
    def of(cls, changes: Iterable[OwnerChange]) -> "Owners":
        made = sorted(changes, key=lambda c: (c.made_at, c.key))
        return cls((made[0], *sorted(made[1:]))) if made else cls()

    def at(self, moment: datetime) -> str | None:
        """The owning team at a moment: the first owner, until a later change takes effect;
        None for a service nobody owns."""
        if not self.changes:
            return None
        team = self.changes[0].team
        for change in self.changes[1:]:
            if change.effective > moment:
                break
            team = change.team
        return team

    def teams(self) -> set[str]:
        return {c.team for c in self.changes}

    def history(self) -> list[dict[str, object]]:
        """Each team with the moment it took effect (the first: from the beginning, None)."""
        return [
            {
                "team": c.team,
                "from": None if i == 0 else c.effective,
                "assigned_at": c.made_at,
            }
            for i, c in enumerate(self.changes)
        ]


def assign(
    owners: Owners,
    service_id: str,
    team: str,
    since: datetime | None,
    by: str,
    now: datetime,
) -> ServiceOwnerAssigned | None:
    """The event that gives the service to `team` (from `since`, else from now), or None when
    nothing would change: the team owns it now and no `since` asks to rewrite its history."""
    if since is None and owners.at(now) == team:
        return None
    return ServiceOwnerAssigned(service_id=service_id, team=team, since=since, assigned_by=by)
