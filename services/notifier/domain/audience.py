"""Who hears of what, and how: the notifier's routing rules, without I/O.

Announcements (sessions scheduled, rescheduled or cancelled; reminders; artifacts) go to a
community's audience by each member's level: `watching` gets each one as it happens, `digest`
gets it in the next digest, `muted` gets nothing. Tags a member follows make them watch matching
artifacts of any community. A session scheduled from a backlog topic also invites the topic's
voters, as watching members are invited, unless they muted the community. Personal notices
(kudos or a badge for them, thanks for a session they attended, a reminder of a session they host,
a health alert for the community they lead) are sent whatever the community's level. E-mail can
be switched off; community channels get public posts.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.notifier.domain.preferences import Level, Preferences, level

EMAIL = "email"
CHAT = "chat"


@dataclass(frozen=True)
class Recipient:
    member_id: str
    how: str  # "now" or "digest"


def announcement(
    community_id: str,
    members: Iterable[str],
    watchers: Iterable[str],
    prefs: Mapping[str, Preferences],
    *,
    tags: Iterable[str] = (),
    tag_followers: Iterable[str] = (),
) -> list[Recipient]:
    """The audience of an announcement: the community's members and those who set a level for
    it, by their level, plus the followers of one of its tags (who hear of it as it happens)."""
    joined = set(members)
    found: dict[str, Recipient] = {}
    for member in sorted(joined | set(watchers)):
        p = prefs.get(member, Preferences())
        chosen = level(p, community_id, member in joined)
        if chosen is Level.WATCHING and p.email:
            found[member] = Recipient(member, "now")
        elif chosen is Level.DIGEST and p.email:
            found[member] = Recipient(member, "digest")
    wanted = set(tags)
    for member in sorted(set(tag_followers)):
        p = prefs.get(member, Preferences())
        explicitly_muted = p.communities.get(community_id) is Level.MUTED
        if p.email and wanted & set(p.tags) and not explicitly_muted:
            found[member] = Recipient(member, "now")
    return sorted(found.values(), key=lambda r: r.member_id)


def invited(
    member_ids: Iterable[str], prefs: Mapping[str, Preferences], community_id: str
) -> list[str]:
    """Members a session invites themselves (a topic's voters): they hear of it as it happens,
    unless they muted the community or switched e-mail off."""
    return sorted(
        {
            m
            for m in member_ids
            if (p := prefs.get(m, Preferences())).email
            and level(p, community_id, True) is not Level.MUTED
        }
    )


def personal(member_ids: Iterable[str], prefs: Mapping[str, Preferences]) -> list[str]:
    """Members a personal notice goes to by e-mail (those who have not switched e-mail off)."""
    return sorted({m for m in member_ids if prefs.get(m, Preferences()).email})
