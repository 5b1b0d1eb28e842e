"""Member rules: a profile is changed only in its member's name, and its personal data
(e-mail, chat handle, timezone, linked chat accounts) is seen only by the member themself and
admins (docs/events.md#privacy).

A chat account is linked to a member only by an admin: the web edge, once it has verified both
the member's sign-in and the signed link the chat user was given, so that nobody claims someone
else's chat account. Who holds a chat account maps chat users to members, so only admins read it.
"""

from services.events.domain.actor import Actor, require_admin, require_self
from services.events.domain.chat import ChatLink
from shared.events.catalog import MemberChatLinked, MemberChatUnlinked, MemberProfileUpdated
from shared.refusals import NotFound


def update_profile(profile: MemberProfileUpdated, actor: Actor) -> MemberProfileUpdated:
    require_self(actor, profile.member_id, "update the profile")
    return profile


def sees_personal_data(actor: Actor, member_id: str) -> bool:
    return actor.is_admin or actor.same_as(member_id)


def link_chat(link: MemberChatLinked, actor: Actor, *, member_known: bool) -> MemberChatLinked:
    """Link a chat account to a known member (moving it from whoever held it)."""
    require_admin(actor, "link a chat account to a member")
    if not member_known:
        raise NotFound("member_not_found", f"no member {link.member_id}")
    return link


def unlink_chat(
    unlink: MemberChatUnlinked, actor: Actor, *, held: ChatLink | None
) -> MemberChatUnlinked:
    """Unlink a chat account from the member who holds it (themself, or an admin for anyone)."""
    require_self(actor, unlink.member_id, "unlink a chat account")
    if held is None or held.member_id != unlink.member_id:
        account = f"{unlink.platform.value} {unlink.workspace_id} {unlink.user_id}"
        raise NotFound("chat_identity_not_linked", f"{account} is not linked to {unlink.member_id}")
    return unlink


def require_reads_chat_links(actor: Actor) -> None:
    require_admin(actor, "read which member a chat account belongs to")
