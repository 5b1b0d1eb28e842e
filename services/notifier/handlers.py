"""The notifier's planner: each domain event becomes delivery records, one per (cause event,
recipient, channel), due now or later. Sending is the dispatcher's (`dispatch.py`).

A record is created once: a redelivered event finds its records and plans nothing new. A replay
(`copctl replay notifier`) notes how far the topics went before it; events up to there rebuild
what the notifier knows (rosters, sessions, profiles) and plan nothing.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import propagate, trace

from services.notifier.adapters.deliveries import DeliveryLog
from services.notifier.adapters.directory import Directory
from services.notifier.domain import audience
from services.notifier.domain.audience import CHAT, EMAIL
from services.notifier.domain.preferences import Preferences, digest_period, quiet_until
from shared.events.catalog import (
    ArtifactPublished,
    ArtifactRevised,
    BadgeAwarded,
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
from shared.messagebus import Fact, UnitOfWork

log = logging.getLogger(__name__)


Doc = dict[str, Any]
NOT_NOTIFIED = {
    KudosVerdict.SELF_KUDOS,
    KudosVerdict.DUPLICATE_RECIPIENT,
    KudosVerdict.UNKNOWN_VALUE_TAG,
}


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
    ) -> None:
        self.directory = directory
        self.deliveries = log_
        self._marks = replay_marks
        self._offsets = sorted(reminder_offsets_h, reverse=True)
        self._default_chat = default_chat
        self.tracer = tracer

    # --- what the notifier knows ------------------------------------------------------------

    async def profile_updated(self, fact: Fact[MemberProfileUpdated], _: UnitOfWork) -> None:
        p = fact.data
        fields = {**p.model_dump(mode="json"), "event_id": fact.event_id}
        if await self.directory.save_profile_if_newer(p.member_id, fields, fact.time) and p.email:
            await self.deliveries.release_awaiting(p.member_id, datetime.now(UTC))

    async def member_joined(self, fact: Fact[MemberJoined], _: UnitOfWork) -> None:
        m = fact.data
        await self.directory.membership(
            m.community_id, m.member_id, field_key(fact.event_id), fact.time, True
        )

    async def member_left(self, fact: Fact[MemberLeft], _: UnitOfWork) -> None:
        m = fact.data
        await self.directory.membership(
            m.community_id, m.member_id, field_key(fact.event_id), fact.time, False
        )

    async def community_created(self, fact: Fact[CommunityCreated], _: UnitOfWork) -> None:
        c = fact.data
        await self.directory.save_leader(
            c.community_id, field_key(fact.event_id), fact.time, c.leader_id
        )

    async def leader_changed(self, fact: Fact[CommunityLeaderChanged], _: UnitOfWork) -> None:
        c = fact.data
        await self.directory.save_leader(
            c.community_id, field_key(fact.event_id), fact.time, c.leader_id
        )

    # --- sessions -------------------------------------------------------------------------------

    async def session_scheduled(self, fact: Fact[SessionScheduled], _: UnitOfWork) -> None:
        s = fact.data
        session = {**s.model_dump(mode="json"), "status": "scheduled", "sequence": 0}
        await self.directory.save_session(s.session_id, session)
        if await self._replaying(fact):
            return
        await self._session_notice(fact, "session_scheduled", session)
        await self._reminders(fact, session)

    async def session_rescheduled(self, fact: Fact[SessionRescheduled], _: UnitOfWork) -> None:
        s = fact.data
        session = await self.directory.session(s.session_id)
        if session is None:
            return
        sequence = int(session.get("sequence", 0)) + 1
        changes = {"starts_at": s.starts_at.isoformat(), "sequence": sequence}
        session.update(changes)
        await self.directory.save_session(s.session_id, changes)
        if await self._replaying(fact):
            return
        await self._session_notice(fact, "session_rescheduled", session)
        await self._reminders(fact, session)

    async def session_cancelled(self, fact: Fact[SessionCancelled], _: UnitOfWork) -> None:
        s = fact.data
        session = await self.directory.session(s.session_id)
        if session is None:
            return
        changes = {"status": "cancelled", "sequence": int(session.get("sequence", 0)) + 1}
        session.update(changes)
        await self.directory.save_session(s.session_id, changes)
        if await self._replaying(fact):
            return
        await self._session_notice(fact, "session_cancelled", session, reason=s.reason, urgent=True)

    async def _session_notice(
        self, fact: Fact[Any], kind: str, session: Doc, *, reason: str = "", urgent: bool = False
    ) -> None:
        community = session["community_id"]
        context = {"session": _public_session(session), "reason": reason}
        hosts = {session["facilitator_id"], *session.get("speaker_ids", [])}
        recipients = await self._audience(community, hosts=hosts)
        await self._plan(fact, kind, community, recipients, context, urgent=urgent)

    async def _reminders(self, fact: Fact[Any], session: Doc) -> None:
        community = session["community_id"]
        starts = datetime.fromisoformat(session["starts_at"])
        hosts = {session["facilitator_id"], *session.get("speaker_ids", [])}
        recipients = [r for r in await self._audience(community, hosts=hosts) if r.how == "now"]
        for hours in self._offsets:
            due = starts - timedelta(hours=hours)
            if due < fact.time:
                continue  # scheduled inside the reminder's window: the invitation is the reminder
            label = f"in {hours} hour{'s' if hours != 1 else ''}"
            context = {
                "session": _public_session(session),
                "in": label,
                "sequence": session["sequence"],
            }
            key = f"reminder-{hours}h-{session['sequence']}"
            await self._plan(
                fact,
                "reminder",
                community,
                recipients,
                context,
                due=due,
                key=key,
                cause=session["session_id"],
                chat=False,
            )

    async def session_held(self, fact: Fact[SessionHeld], _: UnitOfWork) -> None:
        if await self._replaying(fact):
            return
        s = fact.data
        prefs = await self.directory.prefs(s.attendee_ids)
        members = audience.personal(s.attendee_ids, prefs)
        recipients = [audience.Recipient(m, "now") for m in members]
        context = {"session": s.model_dump(mode="json")}
        await self._plan(fact, "session_held", s.community_id, recipients, context, chat=False)

    # --- knowledge --------------------------------------------------------------------------

    async def artifact_published(self, fact: Fact[ArtifactPublished], _: UnitOfWork) -> None:
        a = fact.data
        await self.directory.save_artifact_tags(a.artifact_id, a.tags)
        if await self._replaying(fact):
            return
        context = {"artifact": a.model_dump(mode="json", exclude={"body_markdown"})}
        recipients = await self._audience(a.community_id, tags=a.tags)
        await self._plan(fact, "artifact_published", a.community_id, recipients, context)

    async def artifact_revised(self, fact: Fact[ArtifactRevised], _: UnitOfWork) -> None:
        a = fact.data
        if a.tags is not None:
            await self.directory.save_artifact_tags(a.artifact_id, a.tags)
        if await self._replaying(fact):
            return
        tags = a.tags if a.tags is not None else await self.directory.tags_of(a.artifact_id)
        context = {"artifact": a.model_dump(mode="json", exclude={"body_markdown"})}
        recipients = await self._audience(a.community_id, tags=tags)
        await self._plan(fact, "artifact_revised", a.community_id, recipients, context)

    # --- recognition ------------------------------------------------------------------------

    async def kudos_judged(self, fact: Fact[KudosJudged], _: UnitOfWork) -> None:
        if await self._replaying(fact):
            return
        k = fact.data
        thanked = [r.member_id for r in k.recipients if r.verdict not in NOT_NOTIFIED]
        people = await self.directory.people([k.from_id, *thanked])
        prefs = await self.directory.prefs(thanked)
        context = {
            "kudos": k.model_dump(mode="json", exclude={"recipients"}),
            "giver": _name(people.get(k.from_id), k.from_id),
            "recipients": ", ".join(_name(people.get(m), m) for m in thanked),
        }
        recipients = [audience.Recipient(m, "now") for m in audience.personal(thanked, prefs)]
        await self._plan(fact, "kudos", k.community_id, recipients, context, chat=bool(thanked))

    async def badge_awarded(self, fact: Fact[BadgeAwarded], _: UnitOfWork) -> None:
        if await self._replaying(fact):
            return
        b = fact.data
        people = await self.directory.people([b.member_id])
        prefs = await self.directory.prefs([b.member_id])
        context = {
            "badge": b.model_dump(mode="json"),
            "member": _name(people.get(b.member_id), b.member_id),
        }
        recipients = [audience.Recipient(m, "now") for m in audience.personal([b.member_id], prefs)]
        await self._plan(fact, "badge", b.community_id, recipients, context)

    async def alert_raised(self, fact: Fact[HealthAlertRaised], _: UnitOfWork) -> None:
        if await self._replaying(fact):
            return
        a = fact.data
        leader = await self.directory.leader(a.community_id)
        leaders = [leader] if leader else []
        prefs = await self.directory.prefs(leaders)
        recipients = [audience.Recipient(m, "now") for m in audience.personal(leaders, prefs)]
        await self._plan(
            fact, "health_alert", a.community_id, recipients, {"alert": a.model_dump(mode="json")}
        )

    # --- planning ---------------------------------------------------------------------------

    async def _replaying(self, fact: Fact[Any]) -> bool:
        record = fact.consumed.record
        return bool(await self._marks.replayed(record.topic, record.partition, record.offset))

    async def _audience(
        self, community_id: str, *, hosts: set[str] | None = None, tags: list[str] | None = None
    ) -> list[audience.Recipient]:
        members = await self.directory.members(community_id)
        watchers = await self.directory.audience(f"watchers:{community_id}")
        followers = await self.directory.tag_followers(tags or [])
        prefs = await self.directory.prefs({*members, *watchers, *followers, *(hosts or ())})
        found = {
            r.member_id: r
            for r in audience.announcement(
                community_id, members, watchers, prefs, tags=tags or (), tag_followers=followers
            )
        }
        for host in audience.personal(hosts or (), prefs):
            found[host] = audience.Recipient(host, "now")
        return sorted(found.values(), key=lambda r: r.member_id)

    async def _plan(
        self,
        fact: Fact[Any],
        kind: str,
        community_id: str,
        recipients: list[audience.Recipient],
        context: Doc,
        *,
        urgent: bool = False,
        due: datetime | None = None,
        key: str = "",
        cause: str | None = None,
        chat: bool = True,
    ) -> None:
        now = datetime.now(UTC)
        cause_id = f"{cause or fact.event_id}{':' + key if key else ''}"
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the cause's trace, continued by the send
        base = {
            "trace": carrier,
            "cause_event_id": fact.event_id,
            "cause_type": fact.consumed.event.type,
            "kind": kind,
            "community_id": community_id,
            "context": context,
            "urgent": urgent,
        }
        people = await self.directory.people(r.member_id for r in recipients)
        prefs = await self.directory.prefs(r.member_id for r in recipients)
        records: list[Doc] = []
        for r in recipients:
            p, tz = prefs.get(r.member_id, Preferences()), _tz(people.get(r.member_id))
            if r.how == "digest":
                records.append(await self._digest_item(fact, kind, community_id, context, r, p, tz))
                continue
            at = due or now
            held = None if urgent else quiet_until(p, tz, at)
            records.append(
                {
                    **base,
                    "_id": f"{cause_id}:{r.member_id}:{EMAIL}",
                    "member_id": r.member_id,
                    "channel": None,
                    "channel_kind": EMAIL,
                    "state": "held" if held or due else "queued",
                    "due_at": held or at,
                }
            )
        if chat:
            for channel in await self._channels(community_id):
                records.append(
                    {
                        **base,
                        "_id": f"{cause_id}:channel-{channel['id']}:{CHAT}",
                        "member_id": None,
                        "channel": channel["id"],
                        "channel_kind": channel["kind"],
                        "state": "queued",
                        "due_at": due or now,
                    }
                )
        await self.deliveries.plan(records, now)

    async def _digest_item(
        self,
        fact: Fact[Any],
        kind: str,
        community_id: str,
        context: Doc,
        r: audience.Recipient,
        p: Preferences,
        tz: str | None,
    ) -> Doc:
        period, send_at = digest_period(p, tz, fact.time)
        digest_id = f"digest:{r.member_id}:{community_id}:{period}"
        item = {"kind": kind, "at": fact.time, "context": context}
        await self.deliveries.add_digest_item(digest_id, field_key(fact.event_id), item)
        return {
            "_id": f"{digest_id}:{EMAIL}",
            "cause_event_id": digest_id,
            "cause_type": "digest",
            "kind": "digest",
            "community_id": community_id,
            "member_id": r.member_id,
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

    async def _channels(self, community_id: str) -> list[Doc]:
        configured = await self.directory.community_channels(community_id)
        if configured:
            return configured
        return [self._default_chat] if self._default_chat else []


def _public_session(session: Doc) -> Doc:
    return {k: v for k, v in session.items() if k not in ("_id", "agenda")}


def _name(profile: Doc | None, fallback: str) -> str:
    return str(profile.get("name") or fallback) if profile else fallback


def _tz(profile: Doc | None) -> str | None:
    return (profile or {}).get("timezone")
