"""The events service's MongoDB projection, built only by consuming its own topics.

Collections, every one read and written by `_id` alone (the one key every MongoDB-protocol
server looks up without scanning):

- `communities`: one per community, with its `roster` (member id → role and joined_at);
  written by `cop.communities` events.
- `community_sessions`: one per community (`_id` = community id) indexing its `sessions` (status,
  start, format, title, facilitator, held_at) and its `action_items` (open or not, opened_at):
  what the lists, filters and the facilitator rotation need; written by `cop.sessions` events.
- `sessions` (with the ids of the members who gave feedback), `feedback` (one per session and
  member, `_id` = `session|member`: a second submission replaces the first), `action_items`,
  `members` (profiles) and `applied_events` (ids of the events applied, written after their
  effects, so a command can wait until its event shows).
- `chat_identities` (`_id` = `platform|workspace|user`) with every link and unlink of that chat
  account (`claims`, by event id), `chat_identity_names` (`_id` = `platform|workspace|name`, the
  name in lower case: the user ids that went by it) and `chat_channels` (`_id` =
  `platform|workspace|channel`, with every mapping of the channel by event id). Links and
  mappings come from several partitions (keyed by member, by community), so they are kept as sets
  of claims, each set by its own path, and who holds an account or a channel now is decided when
  it is read (`domain/chat.py`): the same whatever order the partitions were applied in. A
  member's document lists the accounts ever linked to them (`chat_identity_ids`), so their
  profile reads those by `_id`.
- The backlog, written by `cop.sessions` events: `topics` (one per topic, with its `voters`,
  member id → {member_id, voted_at}), `community_topics` (one per community, `_id` = community
  id, indexing its `topics`: status, votes, proposed_at, volunteers, session), and `ballots`
  (`_id` = `community|member`: the topics the member's vote is active on, what their budget
  counts).
- `charter_versions` (`_id` = community id): every charter the community had, by event id, with
  who set it and when; written by `cop.communities` events.

The two per-community aggregates live in separate documents because they come from separate
topics: one consumer at a time holds a community's partition of a topic (the record key is the
community id), but the two topics' partitions may be held by different replicas. An aggregate is
read by `_id` once per batch, kept in the unit of work so later events of the batch see the
changes, and written back entry by entry (`$set` / `$unset` of `roster.<member>`,
`sessions.<session>`...) when the batch commits. Each entry is set or removed by its id, so a
redelivered, in-order suffix of a partition leaves the aggregate as it was.

Every other write addresses one document by `_id` and is idempotent by construction: it sets
fields, adds to a set, inserts if missing or deletes.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.events.domain.chat import (
    ChannelMapping,
    ChatAccount,
    ChatChannelRef,
    ChatLink,
    Claim,
    chat_key,
    current_mapping,
    holder,
    normal_name,
)
from services.events.domain.community import CommunityState
from services.events.domain.session import (
    ActionItemState,
    SessionPlan,
    SessionState,
    SessionStatus,
)
from services.events.domain.topic import TopicState, TopicStatus
from shared.events.catalog import ChatPlatform, Role, SessionFormat, Stage
from shared.mongo import StagedWrites, insert_once

APPLIED_EVENTS = "applied_events"
PROJECTION_COLLECTIONS = (
    "communities",
    "community_sessions",
    "sessions",
    "feedback",
    "action_items",
    "members",
    "chat_identities",
    "chat_identity_names",
    "chat_channels",
    "topics",
    "community_topics",
    "ballots",
    "charter_versions",
)
Fields = dict[str, Any]
Collection = AsyncCollection[dict[str, Any]]

ROSTER: Final = "roster"
"""In a `communities` document: member id → {member_id, role, joined_at}."""
SESSIONS: Final = "sessions"
"""In a `community_sessions` document: session id → {session_id, status, starts_at, ...}."""
ACTION_ITEMS: Final = "action_items"
"""In a `community_sessions` document: action item id → {action_item_id, open, opened_at}."""
TOPICS: Final = "topics"
"""In a `community_topics` document: topic id → {topic_id, status, votes, proposed_at, ...}."""
VOTERS: Final = "voters"
"""In a `topics` document: member id → {member_id, voted_at}."""
ACTIVE_TOPICS: Final = "topic_ids"
"""In a `ballots` document: the topics the member's vote is active on."""
VERSIONS: Final = "versions"
"""In a `charter_versions` document: event id → {event_id, at, by, charter}."""
ENTRY_IDS: Final = {
    ROSTER: "member_id",
    SESSIONS: "session_id",
    ACTION_ITEMS: "action_item_id",
    TOPICS: "topic_id",
    VOTERS: "member_id",
}
"""The field of each entry that holds its id (map keys are escaped, so read the ids from here)."""
FEEDBACK_MEMBERS: Final = "feedback_member_ids"
"""In a `sessions` document: who gave feedback, so the feedback is fetched by `_id`."""
CHAT_IDENTITY_IDS: Final = "chat_identity_ids"
"""In a `members` document: the chat accounts ever linked to the member."""
CLAIMS: Final = "claims"
"""In a `chat_identities` document: event id → {event_id, at, member_id, linked, user_name}."""
NAMED_USERS: Final = "users"
"""In a `chat_identity_names` document: user id (as a key) → user id."""
MAPPINGS: Final = "mappings"
"""In a `chat_channels` document: event id → {event_id, at, community_id, channel_name, ...}."""


def entry_key(entry_id: str) -> str:
    """An id as a field name: MongoDB reads `.` as a path and `$` as an operator."""
    return entry_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def entries(doc: Fields | None, name: str) -> dict[str, Fields]:
    """A map field of an aggregate document, by entry id."""
    id_field = ENTRY_IDS[name]
    stored = (doc or {}).get(name) or {}
    return {entry[id_field]: entry for entry in stored.values()}


def feedback_id(session_id: str, member_id: str) -> str:
    return f"{session_id}|{member_id}"


def ballot_id(community_id: str, member_id: str) -> str:
    return f"{community_id}|{member_id}"


def voters_in_order(doc: Fields | None) -> list[str]:
    """A topic's voters, in the order they voted."""
    voters = entries(doc, VOTERS).values()
    return [v["member_id"] for v in sorted(voters, key=lambda v: (v["voted_at"], v["member_id"]))]


@dataclass(frozen=True)
class SessionIndex:
    """What a community's session lists, filters and rotation are computed from."""

    sessions: list[Fields]
    action_items: list[Fields]


class EventsProjection:
    """Reads for commands and queries, and the unit of work that writes one batch."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self.communities = db["communities"]
        self.community_sessions = db["community_sessions"]
        self.sessions = db["sessions"]
        self.feedback = db["feedback"]
        self.action_items = db["action_items"]
        self.members = db["members"]
        self.chat_identities = db["chat_identities"]
        self.chat_identity_names = db["chat_identity_names"]
        self.chat_channels = db["chat_channels"]
        self.topics = db["topics"]
        self.community_topics = db["community_topics"]
        self.ballots = db["ballots"]
        self.charter_versions = db["charter_versions"]
        self.applied = db[APPLIED_EVENTS]

    def unit_of_work(self) -> "EventsWrites":
        return EventsWrites(self)

    # --- reads for commands ---

    async def was_applied(self, event_id: str) -> bool:
        return await self.applied.find_one({"_id": event_id}) is not None

    async def community_state(self, community_id: str) -> CommunityState | None:
        doc = await self.communities.find_one({"_id": community_id})
        if doc is None or "leader_id" not in doc:  # unknown, or only a later fact arrived yet
            return None
        members = {m: Role(e["role"]) for m, e in entries(doc, ROSTER).items()}
        return CommunityState(community_id, doc["leader_id"], Stage(doc["stage"]), members)

    async def topic_state(self, topic_id: str) -> TopicState | None:
        """A topic as commands see it; None until its proposal has arrived."""
        doc = await self.topics.find_one({"_id": topic_id})
        if doc is None or "title" not in doc:
            return None
        return TopicState(
            topic_id=doc["_id"],
            community_id=doc["community_id"],
            status=TopicStatus(doc.get("status", TopicStatus.OPEN)),
            title=doc["title"],
            proposed_by=doc["proposed_by"],
            speaker_ids=tuple(doc.get("speaker_ids", [])),
            tags=tuple(doc.get("tags", [])),
            voter_ids=tuple(voters_in_order(doc)),
            session_id=doc.get("session_id"),
            session_cancelled=bool(doc.get("session_cancelled")),
        )

    async def active_votes(self, community_id: str, member_id: str) -> frozenset[str]:
        """The topics of the community the member's vote is active on (open ones)."""
        doc = await self.ballots.find_one({"_id": ballot_id(community_id, member_id)})
        return frozenset((doc or {}).get(ACTIVE_TOPICS, []))

    async def session_state(self, session_id: str) -> SessionState | None:
        """A session as commands see it; None until its schedule (or its holding) has arrived."""
        doc = await self.sessions.find_one({"_id": session_id})
        if doc is None or "title" not in doc:
            return None
        return SessionState(
            session_id=doc["_id"],
            community_id=doc["community_id"],
            topic_id=doc.get("topic_id"),
            status=SessionStatus(doc.get("status", SessionStatus.SCHEDULED)),
            attendee_ids=frozenset(doc.get("attendee_ids", [])),
            checked_in_ids=frozenset(doc.get("checked_in_ids", [])),
            plan=SessionPlan(
                title=doc["title"],
                format=SessionFormat(doc["format"]),
                starts_at=doc.get("starts_at") or doc["held_at"],
                duration_minutes=doc["duration_minutes"],
                facilitator_id=doc["facilitator_id"],
                speaker_ids=tuple(doc.get("speaker_ids", [])),
            ),
        )

    async def action_item_state(self, action_item_id: str) -> ActionItemState | None:
        doc = await self.action_items.find_one({"_id": action_item_id})
        if doc is None or "title" not in doc:
            return None
        return ActionItemState(
            action_item_id=doc["_id"],
            community_id=doc["community_id"],
            open=bool(doc.get("open", True)),
            title=doc["title"],
            owner_id=doc["owner_id"],
            session_id=doc.get("session_id"),
        )

    async def member_known(self, member_id: str) -> bool:
        """Whether the member's profile has arrived."""
        doc = await self.members.find_one({"_id": member_id}, {"name": 1})
        return doc is not None and "name" in doc

    async def chat_link(self, account: ChatAccount) -> ChatLink | None:
        """Who holds the chat account now; None when nobody does."""
        doc = await self.chat_identities.find_one({"_id": account.key})
        return _holder(doc) if doc is not None else None

    # --- reads for queries: one document by `_id`, or a page of them by `_id` ---

    async def community(self, community_id: str) -> Fields | None:
        """The community's document, roster included; None until its creation has arrived."""
        doc = await self.communities.find_one({"_id": community_id})
        return doc if doc is not None and "leader_id" in doc else None

    async def session_index(self, community_id: str) -> SessionIndex:
        doc = await self.community_sessions.find_one({"_id": community_id})
        return SessionIndex(
            sessions=list(entries(doc, SESSIONS).values()),
            action_items=list(entries(doc, ACTION_ITEMS).values()),
        )

    async def topic_index(self, community_id: str) -> list[Fields]:
        """The entries of the community's backlog index."""
        doc = await self.community_topics.find_one({"_id": community_id})
        return list(entries(doc, TOPICS).values())

    async def charters(self, community_id: str) -> list[Fields]:
        """Every charter the community had: {event_id, at, by, charter}, oldest first."""
        doc = await self.charter_versions.find_one({"_id": community_id})
        versions = ((doc or {}).get(VERSIONS) or {}).values()
        return sorted(versions, key=lambda v: (v["at"], v["event_id"]))

    async def chat_links(self, keys: Iterable[str]) -> list[ChatLink]:
        """Who holds each of these chat accounts, for those somebody holds."""
        docs = await self.by_ids(self.chat_identities, keys)
        return [link for doc in docs if (link := _holder(doc)) is not None]

    async def chat_links_named(
        self, platform: ChatPlatform, workspace_id: str, user_name: str
    ) -> list[ChatLink]:
        """Who holds the accounts that went by this name (they may have another name now)."""
        name = await self.chat_identity_names.find_one(
            {"_id": chat_key(platform, workspace_id, normal_name(user_name))}
        )
        user_ids = ((name or {}).get(NAMED_USERS) or {}).values()
        return await self.chat_links(chat_key(platform, workspace_id, u) for u in user_ids)

    async def chat_channel(self, channel: ChatChannelRef) -> ChannelMapping | None:
        """The community the channel maps to now; None when it was never mapped."""
        doc = await self.chat_channels.find_one({"_id": channel.key})
        stored = ((doc or {}).get(MAPPINGS) or {}).values()
        return current_mapping(
            ChannelMapping(
                event_id=m["event_id"],
                at=m["at"],
                community_id=m["community_id"],
                channel_name=m.get("channel_name"),
                mapped_by=m["mapped_by"],
            )
            for m in stored
        )

    async def by_ids(self, collection: Collection, ids: Iterable[str]) -> list[Fields]:
        """The documents with these `_id`s, in the order of `ids` (missing ones left out)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        found = {d["_id"]: d async for d in collection.find({"_id": {"$in": wanted}})}
        return [found[i] for i in wanted if i in found]


def _holder(doc: Fields) -> ChatLink | None:
    account = ChatAccount(ChatPlatform(doc["platform"]), doc["workspace_id"], doc["user_id"])
    claims = (
        Claim(
            event_id=c["event_id"],
            at=c["at"],
            member_id=c["member_id"],
            linked=bool(c["linked"]),
            user_name=c.get("user_name"),
        )
        for c in (doc.get(CLAIMS) or {}).values()
    )
    return holder(account, claims)


@dataclass
class _Aggregate:
    """One aggregate document as a batch sees it: read once, changed entry by entry."""

    collection: Collection
    doc_id: str
    doc: Fields
    maps: dict[str, dict[str, Fields]] = field(default_factory=dict)
    changed: dict[tuple[str, str], Fields | None] = field(default_factory=dict)

    def entries(self, name: str) -> dict[str, Fields]:
        if name not in self.maps:
            self.maps[name] = entries(self.doc, name)
        return self.maps[name]

    def put(self, name: str, entry_id: str, entry: Fields) -> None:
        self.entries(name)[entry_id] = entry
        self.changed[(name, entry_id)] = entry

    def remove(self, name: str, entry_id: str) -> None:
        self.entries(name).pop(entry_id, None)
        self.changed[(name, entry_id)] = None

    def write(self) -> UpdateOne | None:
        """The batch's changes as one update by `_id`: each entry set or unset by its id."""
        set_ = {f"{n}.{entry_key(i)}": e for (n, i), e in self.changed.items() if e is not None}
        unset = {f"{n}.{entry_key(i)}": "" for (n, i), e in self.changed.items() if e is None}
        update: dict[str, Fields] = {}
        if set_:
            update["$set"] = set_
        if unset:
            update["$unset"] = unset
        if not update:
            return None
        return UpdateOne({"_id": self.doc_id}, update, upsert=bool(set_))


class EventsWrites:
    """One batch's changes to the projection, written in order when the batch commits."""

    def __init__(self, projection: EventsProjection) -> None:
        self._p = projection
        self._writes = StagedWrites()
        self._aggregates: dict[tuple[str, str], _Aggregate] = {}
        self._applied: list[dict[str, str]] = []

    def set_community(self, community_id: str, fields: Fields) -> None:
        self._writes.add(
            self._p.communities,
            UpdateOne({"_id": community_id}, {"$set": fields}, upsert=True),
        )

    async def join_roster(
        self, community_id: str, member_id: str, role: Role, joined_at: datetime
    ) -> None:
        """Sets the member's role; joined_at is kept from when they joined (until they leave)."""
        await self._change_entry(
            self._p.communities,
            community_id,
            ROSTER,
            member_id,
            set_={"role": role.value},
            defaults={"joined_at": joined_at},
        )

    async def leave_roster(self, community_id: str, member_id: str) -> None:
        roster = await self._aggregate(self._p.communities, community_id)
        roster.remove(ROSTER, member_id)

    def change_session(
        self,
        session_id: str,
        *,
        set_: Fields | None = None,
        on_insert: Fields | None = None,
        add_to_set: Fields | None = None,
    ) -> None:
        update: dict[str, Fields] = {"$set": set_ or {}}
        if on_insert:
            update["$setOnInsert"] = on_insert
        if add_to_set:
            update["$addToSet"] = add_to_set
        self._writes.add(self._p.sessions, UpdateOne({"_id": session_id}, update, upsert=True))

    async def index_session(
        self, community_id: str, session_id: str, *, set_: Fields, defaults: Fields | None = None
    ) -> None:
        """Sets fields of the session's entry in its community's index; `defaults` only fill
        fields the entry does not have yet."""
        await self._change_entry(
            self._p.community_sessions, community_id, SESSIONS, session_id, set_, defaults
        )

    def change_action_item(
        self, action_item_id: str, *, set_: Fields, on_insert: Fields | None = None
    ) -> None:
        update: dict[str, Fields] = {"$set": set_}
        if on_insert:
            update["$setOnInsert"] = on_insert
        self._writes.add(
            self._p.action_items, UpdateOne({"_id": action_item_id}, update, upsert=True)
        )

    async def index_action_item(
        self,
        community_id: str,
        action_item_id: str,
        *,
        set_: Fields,
        defaults: Fields | None = None,
    ) -> None:
        await self._change_entry(
            self._p.community_sessions, community_id, ACTION_ITEMS, action_item_id, set_, defaults
        )

    async def read_times_ahead(
        self, members: Iterable[str], feedback: Iterable[tuple[str, str]]
    ) -> None:
        """The stored times of the profiles and the feedback (session, member) the batch will
        replace if newer, read in one read each."""
        await self._writes.read_times(self._p.members, members)
        await self._writes.read_times(self._p.feedback, (feedback_id(*f) for f in feedback))

    async def replace_profile_if_newer(self, member_id: str, fields: Fields, at: datetime) -> None:
        await self._replace_if_newer(self._p.members, member_id, fields, at)

    async def replace_feedback_if_newer(
        self, session_id: str, member_id: str, fields: Fields, at: datetime
    ) -> None:
        await self._replace_if_newer(
            self._p.feedback, feedback_id(session_id, member_id), fields, at
        )

    def claim_chat_identity(self, account: ChatAccount, claim: Claim) -> None:
        """Adds a link or unlink to the account's claims (each under its own event id)."""
        fields: Fields = {
            "platform": account.platform.value,
            "workspace_id": account.workspace_id,
            "user_id": account.user_id,
            f"{CLAIMS}.{entry_key(claim.event_id)}": {
                "event_id": claim.event_id,
                "at": claim.at,
                "member_id": claim.member_id,
                "linked": claim.linked,
                **({"user_name": claim.user_name} if claim.user_name is not None else {}),
            },
        }
        self._writes.add(
            self._p.chat_identities, UpdateOne({"_id": account.key}, {"$set": fields}, upsert=True)
        )

    def index_chat_name(self, account: ChatAccount, user_name: str) -> None:
        """Notes that the account went by this name, for the lookup by name."""
        name_id = chat_key(account.platform, account.workspace_id, normal_name(user_name))
        user = {f"{NAMED_USERS}.{entry_key(account.user_id)}": account.user_id}
        self._writes.add(
            self._p.chat_identity_names, UpdateOne({"_id": name_id}, {"$set": user}, upsert=True)
        )

    def list_chat_identity(self, member_id: str, account: ChatAccount) -> None:
        self._writes.add(
            self._p.members,
            UpdateOne(
                {"_id": member_id}, {"$addToSet": {CHAT_IDENTITY_IDS: account.key}}, upsert=True
            ),
        )

    def map_chat_channel(self, channel: ChatChannelRef, mapping: ChannelMapping) -> None:
        """Adds a mapping to the channel's mappings (each under its own event id)."""
        fields: Fields = {
            "platform": channel.platform.value,
            "workspace_id": channel.workspace_id,
            "channel_id": channel.channel_id,
            f"{MAPPINGS}.{entry_key(mapping.event_id)}": {
                "event_id": mapping.event_id,
                "at": mapping.at,
                "community_id": mapping.community_id,
                "mapped_by": mapping.mapped_by,
                **({"channel_name": mapping.channel_name} if mapping.channel_name else {}),
            },
        }
        self._writes.add(
            self._p.chat_channels, UpdateOne({"_id": channel.key}, {"$set": fields}, upsert=True)
        )

    def keep_charter(
        self, community_id: str, event_id: str, at: datetime, by: str | None, charter: Fields
    ) -> None:
        """Adds a version to the community's charter history (under its own event id)."""
        version = {"event_id": event_id, "at": at, "by": by, "charter": charter}
        self._writes.add(
            self._p.charter_versions,
            UpdateOne(
                {"_id": community_id},
                {"$set": {f"{VERSIONS}.{entry_key(event_id)}": version}},
                upsert=True,
            ),
        )

    # --- the backlog: a topic's document, the community's index of topics, members' ballots ---

    def change_topic(self, topic_id: str, *, set_: Fields, on_insert: Fields | None = None) -> None:
        update: dict[str, Fields] = {"$set": set_}
        if on_insert:
            update["$setOnInsert"] = on_insert
        self._writes.add(self._p.topics, UpdateOne({"_id": topic_id}, update, upsert=True))

    async def topic_entry(self, community_id: str, topic_id: str) -> Fields | None:
        """The topic's entry in its community's index, as this batch left it."""
        index = await self._aggregate(self._p.community_topics, community_id)
        return index.entries(TOPICS).get(topic_id)

    async def index_topic(
        self, community_id: str, topic_id: str, *, set_: Fields, defaults: Fields | None = None
    ) -> None:
        await self._change_entry(
            self._p.community_topics, community_id, TOPICS, topic_id, set_, defaults
        )

    async def topic_voters(self, topic_id: str) -> dict[str, Fields]:
        """The topic's voters (member id → {member_id, voted_at}), as this batch left them."""
        topic = await self._aggregate(self._p.topics, topic_id)
        return dict(topic.entries(VOTERS))

    async def add_voter(self, topic_id: str, member_id: str, voted_at: datetime) -> int:
        """Records the vote (a member's first time stays); returns the topic's votes."""
        topic = await self._aggregate(self._p.topics, topic_id)
        voters = topic.entries(VOTERS)
        if member_id not in voters:
            topic.put(VOTERS, member_id, {"member_id": member_id, "voted_at": voted_at})
        return len(voters)

    async def remove_voter(self, topic_id: str, member_id: str) -> int:
        """Takes the vote back; returns the topic's votes."""
        topic = await self._aggregate(self._p.topics, topic_id)
        topic.remove(VOTERS, member_id)
        return len(topic.entries(VOTERS))

    def count_votes(self, community_id: str, topic_id: str, member_ids: Iterable[str]) -> None:
        """The members' votes on the topic count against their budgets (it is open)."""
        for member_id in member_ids:
            self._writes.add(
                self._p.ballots,
                UpdateOne(
                    {"_id": ballot_id(community_id, member_id)},
                    {"$addToSet": {ACTIVE_TOPICS: topic_id}},
                    upsert=True,
                ),
            )

    def release_votes(self, community_id: str, topic_id: str, member_ids: Iterable[str]) -> None:
        """The members' votes on the topic no longer count (it left `open`, or was taken back)."""
        for member_id in member_ids:
            self._writes.add(
                self._p.ballots,
                UpdateOne(
                    {"_id": ballot_id(community_id, member_id)},
                    {"$pull": {ACTIVE_TOPICS: topic_id}},
                ),
            )

    async def session_entry(self, community_id: str, session_id: str) -> Fields | None:
        """The session's entry in its community's index, as this batch left it."""
        index = await self._aggregate(self._p.community_sessions, community_id)
        return index.entries(SESSIONS).get(session_id)

    async def _replace_if_newer(
        self, collection: Collection, doc_id: str, fields: Fields, at: datetime
    ) -> None:
        if await self._writes.is_newer(collection, doc_id, at):
            self._writes.add(
                collection,
                UpdateOne({"_id": doc_id}, {"$set": {**fields, "updated_at": at}}, upsert=True),
            )

    async def _aggregate(self, collection: Collection, doc_id: str) -> _Aggregate:
        """The aggregate as this batch left it: read by `_id` at its first use in the batch.

        One consumer at a time applies a community's partition of a topic, so nobody else
        writes the document while the batch holds its copy.
        """
        key = (collection.name, doc_id)
        aggregate = self._aggregates.get(key)
        if aggregate is None:
            doc = await collection.find_one({"_id": doc_id}) or {}
            aggregate = self._aggregates[key] = _Aggregate(collection, doc_id, doc)
        return aggregate

    async def _change_entry(
        self,
        collection: Collection,
        doc_id: str,
        name: str,
        entry_id: str,
        set_: Fields,
        defaults: Fields | None = None,
    ) -> None:
        aggregate = await self._aggregate(collection, doc_id)
        entry = {**aggregate.entries(name).get(entry_id, {}), **set_, ENTRY_IDS[name]: entry_id}
        for field_name, value in (defaults or {}).items():
            entry.setdefault(field_name, value)
        aggregate.put(name, entry_id, entry)

    def applying(self, events: Iterable[tuple[str, str]]) -> None:
        """The batch's events (id, type), recorded as applied when the batch commits."""
        self._applied += [{"_id": event_id, "type": event_type} for event_id, event_type in events]

    async def commit(self) -> None:
        for aggregate in self._aggregates.values():
            write = aggregate.write()
            if write is not None:
                self._writes.add(aggregate.collection, write)
        await self._writes.flush()
        await insert_once(self._p.applied, self._applied)
