"""Member rules: a profile is changed only in its member's name, and its personal data
(e-mail, chat handle, timezone) is seen only by the member themself and admins
(docs/events.md#privacy)."""

from services.events.domain.actor import Actor, require_self
from shared.events.catalog import MemberProfileUpdated


def update_profile(profile: MemberProfileUpdated, actor: Actor) -> MemberProfileUpdated:
    require_self(actor, profile.member_id, "update the profile")
    return profile


def sees_personal_data(actor: Actor, member_id: str) -> bool:
    return actor.is_admin or actor.same_as(member_id)
