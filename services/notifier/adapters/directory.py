"""What the notifier knows of people and communities, in MongoDB, read and written by `_id`.

Built from the topics (a projection, dropped and rebuilt by a replay):
- `profiles` (`<member>`): name, e-mail, timezone, team — the newest by event time.
- `rosters` (`<community>`): each member's latest join or leave (by time, then event), one
  entry a member: a roster grows with the community, not with its history.
- `sessions` (`<session>`): what an invite and a reminder need, with the invite's SEQUENCE.
- `artifact_tags` (`<artifact>`), `leaders` (`<community>`).

The notifier's own settings (kept by a replay, nothing rebuilds them):
- `preferences` (`<member>`), `channels` (`<community>`: its chat webhooks);
- `channel_mappings` (`<channel id>`): the community a mapped chat channel belongs to now;
- `audiences` (`watchers:<community>`, `tag:<tag>`): who set a level for a community they may
  not have joined, and who follows a tag, so an announcement finds them by `_id`.
"""

import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifier.domain.preferences import Preferences
from shared.documents import Doc
from shared.keys import field_key
from shared.mongo import MergedUpdates, StagedWrites, all_by_ids, latest_change

PROJECTION = ("profiles", "rosters", "sessions", "artifact_tags", "leaders")


class Directory:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.profiles = db["profiles"]
        self.rosters = db["rosters"]
        self.sessions = db["sessions"]
        self.artifact_tags = db["artifact_tags"]
        self.leaders = db["leaders"]
        self.preferences = db["preferences"]
        self.channels = db["channels"]
        self.channel_mappings = db["channel_mappings"]
        self.audiences = db["audiences"]

    # --- projection writes ----------------------------------------------------------------

    async def membership(
        self, community_id: str, member_id: str, key: str, at: datetime, joined: bool
    ) -> None:
        """Keep the member's entry if this join or leave is later than the one it holds
        (idempotent, and in any order: a redelivered or older event changes nothing)."""
        slot = f"latest.{field_key(member_id)}"
        entry = {"member": member_id, "at": at, "key": key, "joined": joined}
        later = _later(slot, at, key)
        for _ in range(2):
            changed = await self.rosters.update_one(
                {"_id": community_id, **later}, {"$set": {slot: entry}}
            )
            if changed.matched_count:
                return
            try:  # no roster yet, or it holds a later entry for this member
                await self.rosters.insert_one(
                    {"_id": community_id, "latest": {field_key(member_id): entry}}
                )
                return
            except DuplicateKeyError:
                continue  # it exists: once more, in case another replica just created it

    async def save_profiles_if_newer(self, profiles: Mapping[str, tuple[Doc, datetime]]) -> None:
        """Each member's profile (member -> its fields and time), where it is newer than the
        one stored (or none is): one read and one bulk write for them all."""
        writes = StagedWrites()
        await writes.read_times(self.profiles, profiles)
        for member, (fields, at) in profiles.items():
            if await writes.is_newer(self.profiles, member, at):
                update = {"$set": {**fields, "updated_at": at}}
                writes.add(self.profiles, UpdateOne({"_id": member}, update, upsert=True))
        await writes.flush()

    async def memberships(
        self, community_id: str, entries: Mapping[str, tuple[str, datetime, bool]]
    ) -> None:
        """`membership` for several members of one community (member -> key, time, joined):
        one guarded write when every entry is later than the one the roster holds, or the
        roster made with them all when there is none; else each entry on its own."""
        if not entries:
            return
        guards, slots = [], {}
        for member_id, (key, at, joined) in entries.items():
            slot = field_key(member_id)
            guards.append(_later(f"latest.{slot}", at, key))
            slots[slot] = {"member": member_id, "at": at, "key": key, "joined": joined}
        together = await self.rosters.update_one(
            {"_id": community_id, "$and": guards},
            {"$set": {f"latest.{slot}": entry for slot, entry in slots.items()}},
        )
        if together.matched_count:
            return
        with contextlib.suppress(DuplicateKeyError):  # it exists: entry by entry, below
            await self.rosters.insert_one({"_id": community_id, "latest": slots})
            return
        for member_id, (key, at, joined) in entries.items():
            await self.membership(community_id, member_id, key, at, joined)

    async def save_session(self, session_id: str, fields: Doc) -> None:
        await self.sessions.update_one({"_id": session_id}, {"$set": fields}, upsert=True)

    async def save_artifact_tags(self, artifact_id: str, tags: list[str]) -> None:
        await self.artifact_tags.update_one(
            {"_id": artifact_id}, {"$set": {"tags": tags}}, upsert=True
        )

    async def save_leader(self, community_id: str, key: str, at: datetime, leader: str) -> None:
        await self.leaders.update_one(
            {"_id": community_id}, {"$set": {f"l.{key}": [at, leader]}}, upsert=True
        )

    # --- reads ----------------------------------------------------------------------------

    async def people(self, member_ids: Iterable[str]) -> dict[str, Doc]:
        docs = await all_by_ids(self.profiles, list(set(member_ids)))
        return {d["_id"]: d for d in docs}

    async def members(self, community_id: str) -> set[str]:
        """The community's members now: those whose latest join or leave is a join."""
        doc = await self.rosters.find_one({"_id": community_id}) or {}
        latest: dict[str, tuple[datetime, str, bool]] = {}
        # `m`: entries written by earlier versions (one per event), until a replay rebuilds.
        for key, (at, member, joined) in doc.get("m", {}).items():
            if member not in latest or (at, key) >= latest[member][:2]:
                latest[member] = (at, key, joined)
        for e in doc.get("latest", {}).values():
            if e["member"] not in latest or (e["at"], e["key"]) >= latest[e["member"]][:2]:
                latest[e["member"]] = (e["at"], e["key"], e["joined"])
        return {m for m, (_, _, joined) in latest.items() if joined}

    async def session(self, session_id: str) -> Doc | None:
        return await self.sessions.find_one({"_id": session_id})

    async def tags_of(self, artifact_id: str) -> list[str]:
        doc = await self.artifact_tags.find_one({"_id": artifact_id})
        return list((doc or {}).get("tags", []))

    async def leader(self, community_id: str) -> str | None:
        doc = await self.leaders.find_one({"_id": community_id})
        found = latest_change((doc or {}).get("l"))
        return str(found) if found is not None else None

    # --- settings -------------------------------------------------------------------------

    async def prefs(self, member_ids: Iterable[str]) -> dict[str, Preferences]:
        docs = await all_by_ids(self.preferences, list(set(member_ids)))
        return {d["_id"]: Preferences.model_validate(d["prefs"]) for d in docs}

    async def save_prefs(self, member_id: str, prefs: Preferences) -> None:
        """Store the preferences and keep the audience indexes in step with them.

        The member joins every index the preferences name (again: that mends one a save cut
        short left out), then the preferences are stored, then the member leaves the indexes
        they no longer name. A save cut short leaves the member in an index too many, which
        routing ignores (it goes by the preferences), never in one too few. Each step's writes
        go out together, in bulk writes of one statement per index.
        """
        before = (await self.prefs([member_id])).get(member_id, Preferences())
        old, new = _audience_keys(before), _audience_keys(prefs)
        joins, leaves = MergedUpdates(), MergedUpdates()  # $addToSet and $pull apart
        for key in new:
            joins.add_to_set(self.audiences, key, "members", member_id)
        for key in old - new:
            leaves.pull(self.audiences, key, "members", member_id)
        await joins.flush()
        await self.preferences.update_one(
            {"_id": member_id}, {"$set": {"prefs": prefs.model_dump(mode="json")}}, upsert=True
        )
        await leaves.flush()

    async def audience(self, key: str) -> list[str]:
        doc = await self.audiences.find_one({"_id": key})
        return list((doc or {}).get("members", []))

    async def tag_followers(self, tags: Iterable[str]) -> set[str]:
        ids = [f"tag:{t}" for t in tags]
        docs = await self.audiences.find({"_id": {"$in": ids}}).to_list(None)
        return {m for d in docs for m in d.get("members", [])}

    async def community_channels(self, community_id: str) -> list[Doc]:
        doc = await self.channels.find_one({"_id": community_id})
        return list((doc or {}).get("channels", []))

    async def channels_of(self, community_ids: Iterable[str]) -> dict[str, list[Doc]]:
        """Each community's channels (an empty list for one with none configured)."""
        wanted = list(set(community_ids))
        docs = await self.channels.find({"_id": {"$in": wanted}}).to_list(None)
        found = {d["_id"]: list(d.get("channels", [])) for d in docs}
        return {c: found.get(c, []) for c in wanted}

    async def save_channels(self, community_id: str, channels: list[Doc]) -> None:
        await self.channels.update_one(
            {"_id": community_id}, {"$set": {"channels": channels}}, upsert=True
        )

    async def map_channel(
        self, channel_id: str, community_id: str, at: datetime
    ) -> tuple[bool, str | None]:
        """Record that a mapped chat channel belongs to `community_id` from `at`, unless a later
        mapping of it is recorded already (mappings may arrive in any order: each community's
        are on its own partition). Returns whether this mapping is the latest and the
        community the channel belonged to until now (itself for a redelivery; None at first)."""
        mapping = {"community_id": community_id, "at": at}
        before = await self.channel_mappings.find_one_and_update(
            {"_id": channel_id, "at": {"$lte": at}}, {"$set": mapping}
        )
        if before is not None:
            return True, str(before["community_id"])
        try:
            await self.channel_mappings.insert_one({"_id": channel_id, **mapping})
        except DuplicateKeyError:
            return False, None  # a later mapping holds it
        return True, None

    async def remove_channel(self, community_id: str, channel_id: str) -> bool:
        """Take a channel out of a community's channels; whether it was there."""
        removed = await self.channels.update_one(
            {"_id": community_id}, {"$pull": {"channels": {"id": channel_id}}}
        )
        return removed.modified_count == 1

    async def add_first_channel(self, community_id: str, channel: Doc) -> bool:
        """Give a community without channels (none set, or all removed) this one; a community
        with channels is left as it is. Returns whether the channel was added."""
        try:
            await self.channels.insert_one({"_id": community_id, "channels": [channel]})
            return True
        except DuplicateKeyError:
            pass  # channels were set once: only an emptied list takes it
        emptied = await self.channels.update_one(
            {"_id": community_id, "channels": {"$size": 0}}, {"$set": {"channels": [channel]}}
        )
        return emptied.modified_count == 1


def _later(slot: str, at: datetime, key: str) -> Doc:
    """A roster whose entry at `slot` is older than (`at`, `key`), or has none."""
    return {
        "$or": [
            {f"{slot}.at": {"$exists": False}},
            {f"{slot}.at": {"$lt": at}},
            {f"{slot}.at": at, f"{slot}.key": {"$lt": key}},
        ]
    }


class DirectoryWrites:
    """What one batch's events tell the directory about members, staged and written together:
    each member's newest profile and, per community, each member's latest join or leave. The
    planner flushes them before it reads what they change, and the batch's commit flushes the
    rest, so a replay, which reads nothing, writes a batch's profiles and rosters in a few round
    trips instead of one or three per event."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._profiles: dict[str, tuple[Doc, datetime]] = {}
        self._addressed: list[str] = []
        self._rosters: dict[str, dict[str, tuple[str, datetime, bool]]] = {}

    def profile(self, member_id: str, fields: Doc, at: datetime) -> None:
        """The member's profile as of `at`, kept unless the batch holds a newer one (the first
        of equal times, as writing them one by one would keep)."""
        staged = self._profiles.get(member_id)
        if staged is None or staged[1] < at:
            self._profiles[member_id] = (fields, at)
        if fields.get("email") and member_id not in self._addressed:
            self._addressed.append(member_id)

    def membership(
        self, community_id: str, member_id: str, key: str, at: datetime, joined: bool
    ) -> None:
        roster = self._rosters.setdefault(community_id, {})
        staged = roster.get(member_id)
        if staged is None or (staged[1], staged[0]) < (at, key):
            roster[member_id] = (key, at, joined)

    async def flush(self) -> list[str]:
        """Write what is staged; returns the members whose profile came with an e-mail address
        (what waited for it can be released now), in the order they came."""
        profiles, self._profiles = self._profiles, {}
        addressed, self._addressed = self._addressed, []
        rosters, self._rosters = self._rosters, {}
        await self._directory.save_profiles_if_newer(profiles)
        for community_id, entries in rosters.items():
            await self._directory.memberships(community_id, entries)
        return addressed


def _audience_keys(prefs: Preferences) -> set[str]:
    """The audience indexes a member's preferences put them in."""
    return {f"watchers:{c}" for c in prefs.communities} | {f"tag:{t}" for t in prefs.tags}
