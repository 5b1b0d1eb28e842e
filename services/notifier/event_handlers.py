"""What the notifier does when an event arrives: the planner turns each domain event into
delivery records, one per (cause event, recipient, channel), due now or later; the registry at
the end lists the event types it reacts to. Sending is the dispatcher's (`jobs.py`).

A record is created once: a redelivered event finds its records and plans nothing new. A replay
(`copctl replay notifier`) notes how far the topics went before it; events up to there rebuild
what the notifier knows (rosters, sessions, profiles) and plan nothing.
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import propagate, trace

from services.notifier.adapters.deliveries import DeliveryLog
from services.notifier.adapters.directory import Directory, DirectoryWrites
from services.notifier.domain import audience
from services.notifier.domain.audience import CHAT, EMAIL
from services.notifier.domain.chat_channels import mapped_channel
from services.notifier.domain.preferences import Preferences, digest_period, quiet_until
from shared.documents import Doc
from shared.events.catalog import (
    ArtifactPublished,
    ArtifactRevised,
    BadgeAwarded,
    CommunityChatChannelMapped,
    CommunityCreated,
    CommunityLeaderChanged,
    HealthAlertRaised,
    KudosJudged,
    KudosVerdict,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    SessionCancelled,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
)
from shared.keys import field_key
from shared.messagebus import EventHandlers, Fact, UnitOfWork

log = logging.getLogger(__name__)

NOT_NOTIFIED = {
    KudosVerdict.SELF_KUDOS,
    KudosVerdict.DUPLICATE_RECIPIENT,
    KudosVerdict.UNKNOWN_VALUE_TAG,
}


@dataclass(frozen=True)
class Notice:
    """One notice of an event to plan: what it says (`kind`, and the `context` its message is
    rendered from), in which community, to whom, and when."""

    kind: str
    community_id: str
    recipients: list[audience.Recipient]
    context: Doc
    urgent: bool = False  # sent during quiet hours too
    due: datetime | None = None  # when it is sent; None: now
    key: str = ""  # tells apart the notices of one cause (a session's reminders)
    cause: str | None = None  # what its delivery ids are named after, if not the event
    chat: bool = True  # also posted to the community's chat channels


class PlanningWork:
    """The notifier's unit of work: what the notifier knows is written as each event is
    handled; the deliveries a batch plans are created together when it commits, each record
    insert-once, so a redelivered batch plans nothing new. It also keeps what the batch read
    of profiles, preferences and channels (read once for the batch by `Planner.prepare`)."""

    def __init__(
        self, deliveries: DeliveryLog, directory: Directory, planned: Callable[[], None]
    ) -> None:
        self._deliveries = deliveries
        self._planned = planned
        self._records: list[Doc] = []
        self.directory_writes = DirectoryWrites(directory)
        self.people: dict[str, Doc] = {}
        self.prefs: dict[str, Preferences] = {}
        self.channels: dict[str, list[Doc]] = {}
        self.read: set[str] = set()  # member ids whose profile and preferences were read

    def plan(self, records: list[Doc]) -> None:
        self._records += records

    async def flush_directory(self) -> None:
        """Write the profiles and rosters staged so far (before a read that needs them), then
        release what waited for an address that has come."""
        addressed = await self.directory_writes.flush()
        # Also when the profile was not newer (redelivered): the crash it is redelivered after
        # may have come between saving the profile and releasing what waited for it.
        await self._deliveries.release_awaiting_all(addressed, datetime.now(UTC))

    async def commit(self) -> None:
        await self.flush_directory()
        if await self._deliveries.plan(self._records, datetime.now(UTC)):
            self._planned()


class Planner:
    def __init__(
        self,
        *,
        directory: Directory,
        log_: DeliveryLog,
        replay_marks: Any,
        reminder_offsets_h: list[int],
        default_chat: Doc | None,
        tracer: trace.Tracer,
        planned: Callable[[], None] = lambda: None,
        chat_webhook_urls: Mapping[str, str] | None = None,
    ) -> None:
        """`planned` is called after a batch created deliveries (the dispatcher's wake-up);
        `chat_webhook_urls` (platform -> a workspace's incoming webhook) post to the chat
        channels mapped to communities that had none."""
        self.directory = directory
        self._planned = planned
        self.deliveries = log_
        self._marks = replay_marks
        self._offsets = sorted(reminder_offsets_h, reverse=True)
        self._default_chat = default_chat
        self._chat_webhook_urls = dict(chat_webhook_urls or {})
        self.tracer = tracer

    def unit_of_work(self) -> PlanningWork:
        return PlanningWork(self.deliveries, self.directory, self._planned)

    async def prepare(self, facts: Sequence[Fact[Any]], uow: PlanningWork) -> None:
        """Read the people, preferences and channels of the batch's recognition notices in
        three queries, rather than three per event."""
        members: set[str] = set()
        communities: set[str] = set()
        for fact in facts:
            data = fact.data
            if isinstance(data, KudosJudged):
                members |= {data.from_id, *(r.member_id for r in data.recipients)}
                communities.add(data.community_id)
            elif isinstance(data, BadgeAwarded):
                members.add(data.member_id)
        await self._read_people(uow, members)
        missing = communities - uow.channels.keys()
        if missing:
            uow.channels.update(await self.directory.channels_of(missing))

    async def _read_people(self, uow: PlanningWork, member_ids: Iterable[str]) -> None:
        missing = set(member_ids) - uow.read
        if missing:
            await uow.flush_directory()
            uow.people.update(await self.directory.people(missing))
            uow.prefs.update(await self.directory.prefs(missing))
            uow.read |= missing

    async def _people(self, uow: PlanningWork, member_ids: Iterable[str]) -> dict[str, Doc]:
        wanted = set(member_ids)
        await self._read_people(uow, wanted)
        return {m: uow.people[m] for m in wanted if m in uow.people}

    async def _prefs(self, uow: PlanningWork, member_ids: Iterable[str]) -> dict[str, Preferences]:
        wanted = set(member_ids)
        await self._read_people(uow, wanted)
        return {m: uow.prefs[m] for m in wanted if m in uow.prefs}

    # --- what the notifier knows ------------------------------------------------------------

    async def profile_updated(self, fact: Fact[MemberProfileUpdated], uow: PlanningWork) -> None:
        p = fact.data
        uow.read.discard(p.member_id)  # read again by a later event of this batch
        fields = {**p.model_dump(mode="json"), "event_id": fact.event_id}
        uow.directory_writes.profile(p.member_id, fields, fact.time)

    async def membership_changed(
        self, fact: Fact[MemberJoined] | Fact[MemberLeft], uow: PlanningWork
    ) -> None:
        m, joined = fact.data, isinstance(fact.data, MemberJoined)
        uow.directory_writes.membership(
            m.community_id, m.member_id, field_key(fact.event_id), fact.time, joined
        )

    async def leader_named(
        self, fact: Fact[CommunityCreated] | Fact[CommunityLeaderChanged], _: UnitOfWork
    ) -> None:
        """A community's leader: the one it was created with, or the one it changed to."""
        c = fact.data
        await self.directory.save_leader(
            c.community_id, field_key(fact.event_id), fact.time, c.leader_id
        )

    async def chat_channel_mapped(
        self, fact: Fact[CommunityChatChannelMapped], uow: PlanningWork
    ) -> None:
        """A chat channel mapped to a community without channels becomes its channel; mapped to
        another community later, it leaves the first one's channels. Channels are settings a
        replay keeps: one replayed is not added again (it may have been removed since)."""
        m = fact.data
        channel = mapped_channel(m, self._chat_webhook_urls)
        if channel is None or await self._replaying(fact):
            return
        latest, before = await self.directory.map_channel(channel["id"], m.community_id, fact.time)
        if not latest:
            return
        if before is not None and before != m.community_id:
            left = await self.directory.remove_channel(before, channel["id"])
            if left:
                uow.channels.pop(before, None)
                log.info("community %s no longer posts to its %s channel", before, m.platform)
        if await self.directory.add_first_channel(m.community_id, channel):
            uow.channels.pop(m.community_id, None)  # read again by a later event of the batch
            log.info("community %s posts to its mapped %s channel", m.community_id, m.platform)

    # --- sessions -------------------------------------------------------------------------------

    async def session_scheduled(self, fact: Fact[SessionScheduled], uow: PlanningWork) -> None:
        s = fact.data
        session = {**s.model_dump(mode="json"), "status": "scheduled", "sequence": 0}
        await self.directory.save_session(s.session_id, session)
        if await self._replaying(fact):
            return
        await self._session_notice(uow, fact, "session_scheduled", session)
        await self._reminders(uow, fact, session)

    async def session_rescheduled(self, fact: Fact[SessionRescheduled], uow: PlanningWork) -> None:
        s = fact.data
        session = await self._session_changed(s.session_id, {"starts_at": s.starts_at.isoformat()})
        if session is None or await self._replaying(fact):
            return
        await self._session_notice(uow, fact, "session_rescheduled", session)
        await self._reminders(uow, fact, session)

    async def session_cancelled(self, fact: Fact[SessionCancelled], uow: PlanningWork) -> None:
        s = fact.data
        session = await self._session_changed(s.session_id, {"status": "cancelled"})
        if session is None or await self._replaying(fact):
            return
        await self._session_notice(
            uow, fact, "session_cancelled", session, reason=s.reason, urgent=True
        )

    async def _session_changed(self, session_id: str, changes: Doc) -> Doc | None:
        """The session as `changes` leave it, saved with its next sequence (what an updated
        invitation carries); None for a session the notifier never heard of."""
        session = await self.directory.session(session_id)
        if session is None:
            return None
        changes = {**changes, "sequence": int(session.get("sequence", 0)) + 1}
        session.update(changes)
        await self.directory.save_session(session_id, changes)
        return session

    async def _session_notice(
        self,
        uow: PlanningWork,
        fact: Fact[Any],
        kind: str,
        session: Doc,
        *,
        reason: str = "",
        urgent: bool = False,
    ) -> None:
        community = session["community_id"]
        context = {"session": _public_session(session), "reason": reason}
        hosts = {session["facilitator_id"], *session.get("speaker_ids", [])}
        voters = session.get("voter_ids", [])
        recipients = await self._audience(uow, community, hosts=hosts, invited=voters)
        await self._plan(uow, fact, Notice(kind, community, recipients, context, urgent=urgent))

    async def _reminders(self, uow: PlanningWork, fact: Fact[Any], session: Doc) -> None:
        community = session["community_id"]
        starts = datetime.fromisoformat(session["starts_at"])
        hosts = {session["facilitator_id"], *session.get("speaker_ids", [])}
        voters = session.get("voter_ids", [])
        everyone = await self._audience(uow, community, hosts=hosts, invited=voters)
        recipients = [r for r in everyone if r.how == "now"]
        for hours in self._offsets:
            due = starts - timedelta(hours=hours)
            if due < max(fact.time, datetime.now(UTC)):
                # Scheduled inside the reminder's window (the invitation is the reminder), or
                # the event arrived late: a reminder is never planned for a time gone by.
                continue
            label = f"in {hours} hour{'s' if hours != 1 else ''}"
            context = {
                "session": _public_session(session),
                "in": label,
                "sequence": session["sequence"],
            }
            key = f"reminder-{hours}h-{session['sequence']}"
            notice = Notice(
                "reminder",
                community,
                recipients,
                context,
                due=due,
                key=key,
                cause=session["session_id"],
                chat=False,
            )
            await self._plan(uow, fact, notice)

    async def session_held(self, fact: Fact[SessionHeld], uow: PlanningWork) -> None:
        if await self._replaying(fact):
            return
        s = fact.data
        prefs = await self.directory.prefs(s.attendee_ids)
        context = {"session": _held_session(s)}
        recipients = _personally(s.attendee_ids, prefs)
        notice = Notice("session_held", s.community_id, recipients, context, chat=False)
        await self._plan(uow, fact, notice)

    # --- knowledge --------------------------------------------------------------------------

    async def artifact_published(self, fact: Fact[ArtifactPublished], uow: PlanningWork) -> None:
        a = fact.data
        await self.directory.save_artifact_tags(a.artifact_id, a.tags)
        if await self._replaying(fact):
            return
        context = {"artifact": a.model_dump(mode="json", exclude={"body_markdown"})}
        recipients = await self._audience(uow, a.community_id, tags=a.tags)
        await self._plan(
            uow, fact, Notice("artifact_published", a.community_id, recipients, context)
        )

    async def artifact_revised(self, fact: Fact[ArtifactRevised], uow: PlanningWork) -> None:
        a = fact.data
        if a.tags is not None:
            await self.directory.save_artifact_tags(a.artifact_id, a.tags)
        if await self._replaying(fact):
            return
        tags = a.tags if a.tags is not None else await self.directory.tags_of(a.artifact_id)
        context = {"artifact": a.model_dump(mode="json", exclude={"body_markdown"})}
        recipients = await self._audience(uow, a.community_id, tags=tags)
        await self._plan(uow, fact, Notice("artifact_revised", a.community_id, recipients, context))

    # --- recognition ------------------------------------------------------------------------

    async def kudos_judged(self, fact: Fact[KudosJudged], uow: PlanningWork) -> None:
        if await self._replaying(fact):
            return
        k = fact.data
        thanked = [r.member_id for r in k.recipients if r.verdict not in NOT_NOTIFIED]
        people = await self._people(uow, [k.from_id, *thanked])
        prefs = await self._prefs(uow, thanked)
        context = {
            "kudos": k.model_dump(mode="json", exclude={"recipients"}),
            "giver": _name(people.get(k.from_id), k.from_id),
            "recipients": ", ".join(_name(people.get(m), m) for m in thanked),
        }
        recipients = _personally(thanked, prefs)
        notice = Notice("kudos", k.community_id, recipients, context, chat=bool(thanked))
        await self._plan(uow, fact, notice)

    async def badge_awarded(self, fact: Fact[BadgeAwarded], uow: PlanningWork) -> None:
        if await self._replaying(fact):
            return
        b = fact.data
        people = await self._people(uow, [b.member_id])
        prefs = await self._prefs(uow, [b.member_id])
        context = {
            "badge": b.model_dump(mode="json"),
            "member": _name(people.get(b.member_id), b.member_id),
        }
        recipients = _personally([b.member_id], prefs)
        await self._plan(uow, fact, Notice("badge", b.community_id, recipients, context))

    async def alert_raised(self, fact: Fact[HealthAlertRaised], uow: PlanningWork) -> None:
        if await self._replaying(fact):
            return
        a = fact.data
        leader = await self.directory.leader(a.community_id)
        leaders = [leader] if leader else []
        prefs = await self.directory.prefs(leaders)
        context = {"alert": a.model_dump(mode="json")}
        recipients = _personally(leaders, prefs)
        await self._plan(uow, fact, Notice("health_alert", a.community_id, recipients, context))

    # --- planning ---------------------------------------------------------------------------

    async def _replaying(self, fact: Fact[Any]) -> bool:
        record = fact.consumed.record
        return bool(await self._marks.replayed(record.topic, record.partition, record.offset))

    async def _audience(
        self,
        uow: PlanningWork,
        community_id: str,
        *,
        hosts: set[str] | None = None,
        tags: list[str] | None = None,
        invited: list[str] | None = None,
    ) -> list[audience.Recipient]:
        """`invited`: members a session invites themselves (a backlog topic's voters)."""
        await uow.flush_directory()  # the batch's joins and leaves so far
        members = await self.directory.members(community_id)
        watchers = await self.directory.audience(f"watchers:{community_id}")
        followers = await self.directory.tag_followers(tags or [])
        prefs = await self.directory.prefs(
            {*members, *watchers, *followers, *(hosts or ()), *(invited or ())}
        )
        found = {
            r.member_id: r
            for r in audience.announcement(
                community_id, members, watchers, prefs, tags=tags or (), tag_followers=followers
            )
        }
        for member in audience.invited(invited or (), prefs, community_id):
            found[member] = audience.Recipient(member, "now")
        for host in audience.personal(hosts or (), prefs):
            found[host] = audience.Recipient(host, "now")
        return sorted(found.values(), key=lambda r: r.member_id)

    async def _plan(self, uow: PlanningWork, fact: Fact[Any], notice: Notice) -> None:
        """The deliveries of one notice, handed to the batch's unit of work (created when it
        commits): an e-mail to each recipient (or an item of their digest), and a post to each
        of the community's chat channels."""
        now = datetime.now(UTC)
        at = notice.due or now
        cause_id = f"{notice.cause or fact.event_id}{':' + notice.key if notice.key else ''}"
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the cause's trace, continued by the send
        base = {
            "trace": carrier,
            "cause_event_id": fact.event_id,
            "cause_type": fact.consumed.event.type,
            "kind": notice.kind,
            "community_id": notice.community_id,
            "context": notice.context,
            "urgent": notice.urgent,
        }
        people = await self._people(uow, (r.member_id for r in notice.recipients))
        prefs = await self._prefs(uow, (r.member_id for r in notice.recipients))
        records: list[Doc] = []
        for r in notice.recipients:
            p, tz = prefs.get(r.member_id, Preferences()), _tz(people.get(r.member_id))
            if r.how == "digest":
                records.append(await self._digest_item(fact, notice, r.member_id, p, tz))
                continue
            held = None if notice.urgent else quiet_until(p, tz, at)
            records.append(
                {
                    **base,
                    "_id": f"{cause_id}:{r.member_id}:{EMAIL}",
                    "member_id": r.member_id,
                    "channel": None,
                    "channel_kind": EMAIL,
                    "state": "held" if held or notice.due else "queued",
                    "due_at": held or at,
                }
            )
        if notice.chat:
            for channel in await self._channels(uow, notice.community_id):
                records.append(
                    {
                        **base,
                        "_id": f"{cause_id}:channel-{channel['id']}:{CHAT}",
                        "member_id": None,
                        "channel": channel["id"],
                        "channel_kind": channel["kind"],
                        "state": "queued",
                        "due_at": at,
                    }
                )
        uow.plan(records)

    async def _digest_item(
        self, fact: Fact[Any], notice: Notice, member_id: str, p: Preferences, tz: str | None
    ) -> Doc:
        """The notice as an item of the member's digest, and the digest's own delivery."""
        community_id = notice.community_id
        period, send_at = digest_period(p, tz, fact.time)
        digest_id = f"digest:{member_id}:{community_id}:{period}"
        item = {"kind": notice.kind, "at": fact.time, "context": notice.context}
        await self.deliveries.add_digest_item(digest_id, field_key(fact.event_id), item)
        return {
            "_id": f"{digest_id}:{EMAIL}",
            "cause_event_id": digest_id,
            "cause_type": "digest",
            "kind": "digest",
            "community_id": community_id,
            "member_id": member_id,
            "channel": None,
            "channel_kind": EMAIL,
            "state": "held",
            "due_at": send_at,
            "urgent": False,
            "context": {
                "digest_id": digest_id,
                "frequency": p.digest,
                "community_id": community_id,
            },
        }

    async def _channels(self, uow: PlanningWork, community_id: str) -> list[Doc]:
        if community_id not in uow.channels:
            uow.channels[community_id] = await self.directory.community_channels(community_id)
        configured = uow.channels[community_id]
        if configured:
            return configured
        return [self._default_chat] if self._default_chat else []


# What a session's messages and invitations say: a delivery record keeps these, not its whole
# cause (a roster or an agenda would be copied into every recipient's record).
SESSION_FIELDS = (
    "session_id",
    "community_id",
    "title",
    "format",
    "starts_at",
    "duration_minutes",
    "location",
    "facilitator_id",
    "status",
    "sequence",
)
HELD_FIELDS = (
    "session_id",
    "community_id",
    "title",
    "format",
    "held_at",
    "duration_minutes",
    "facilitator_id",
    "recording_url",
)


def _public_session(session: Doc) -> Doc:
    return {k: session[k] for k in SESSION_FIELDS if k in session}


def _held_session(held: SessionHeld) -> Doc:
    return held.model_dump(mode="json", include=set(HELD_FIELDS))


def _personally(
    member_ids: Iterable[str], prefs: dict[str, Preferences]
) -> list[audience.Recipient]:
    """The recipients of a personal notice: by e-mail, at once (not in a digest)."""
    return [audience.Recipient(m, "now") for m in audience.personal(member_ids, prefs)]


def _name(profile: Doc | None, fallback: str) -> str:
    return str(profile.get("name") or fallback) if profile else fallback


def _tz(profile: Doc | None) -> str | None:
    return (profile or {}).get("timezone")


def event_handlers(planner: Planner) -> EventHandlers[PlanningWork]:
    """Every event type the notifier reacts to, and its handler."""
    return (
        EventHandlers(
            "notifier", planner.unit_of_work, tracer=planner.tracer, prepare=planner.prepare
        )
        .on(MemberProfileUpdated, planner.profile_updated)
        .on(MemberJoined, planner.membership_changed)
        .on(MemberLeft, planner.membership_changed)
        .on(CommunityCreated, planner.leader_named)
        .on(CommunityLeaderChanged, planner.leader_named)
        .on(CommunityChatChannelMapped, planner.chat_channel_mapped)
        .on(SessionScheduled, planner.session_scheduled)
        .on(SessionRescheduled, planner.session_rescheduled)
        .on(SessionCancelled, planner.session_cancelled)
        .on(SessionHeld, planner.session_held)
        .on(ArtifactPublished, planner.artifact_published)
        .on(ArtifactRevised, planner.artifact_revised)
        .on(KudosJudged, planner.kudos_judged)
        .on(BadgeAwarded, planner.badge_awarded)
        .on(HealthAlertRaised, planner.alert_raised)
    )
