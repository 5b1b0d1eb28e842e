"""Health-check rounds in MongoDB: the ballot boxes (private) and the rounds' projection.

Private to the service, never published and kept across a rebuild:

- `health_check_ballots` (`<round>`): an open round's definition (community, template, card
  ids, minimum, closing time, `due_at` for the closing job), its random key, and the answer
  sets, each under HMAC(key, member id) and holding no member id. Closing removes the key, the
  answers and `due_at`, leaving `{state: closed}`.
- `health_check_respondents` (`<round>`): who answered, member ids only (kept sorted), without
  the key.

Projection, rebuilt from `cop.health_check.opened.v1` and `….closed.v1`:

- `health_checks` (`<round>`): the round as opened, and once closed its tallies.
- `community_health_checks` (`<community>`): each round's template, opening and closing times
  and whether it has results: the index for listing rounds and finding the previous ones.
"""

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bson import Binary
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.recognition.domain.health import members_at
from services.recognition.domain.health_checks import (
    Answer,
    AnswerSet,
    Colour,
    Results,
    Trend,
    card_result,
)
from shared.documents import Doc
from shared.events.catalog import (
    HealthCheckCardTally,
    HealthCheckClosed,
    HealthCheckOpened,
    HealthCheckTemplate,
)
from shared.keys import field_key
from shared.mongo import MergedUpdates, latest_change

BALLOTS: Final = "health_check_ballots"
RESPONDENTS: Final = "health_check_respondents"
ROUNDS: Final = "health_checks"
COMMUNITY_ROUNDS: Final = "community_health_checks"
DUE_PER_READ: Final = 100


@dataclass(frozen=True)
class Ballot:
    """A round as its ballot box knows it; `key` only while it is open (or closing)."""

    round_id: str
    community_id: str
    template: HealthCheckTemplate
    card_ids: list[str]
    min_respondents: int
    closes_at: datetime
    state: str
    key: bytes | None


def _ballot(doc: Doc) -> Ballot:
    key = doc.get("key")
    return Ballot(
        round_id=doc["_id"],
        community_id=doc["community_id"],
        template=HealthCheckTemplate(doc["template"]),
        card_ids=list(doc["card_ids"]),
        min_respondents=doc["min_respondents"],
        closes_at=doc["closes_at"],
        state=doc["state"],
        key=bytes(key) if key is not None else None,
    )


def _encode(answers: AnswerSet) -> dict[str, list[str | None]]:
    return {card: [a.colour.value, a.trend, a.comment] for card, a in answers.items()}


def _decode(stored: Mapping[str, list[Any]]) -> AnswerSet:
    return {
        card: Answer(Colour(colour), Trend(trend) if trend else None, comment)
        for card, (colour, trend, comment) in stored.items()
    }


class Ballots:
    """The ballot boxes and the respondents, written directly: answers never become events."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._ballots = db[BALLOTS]
        self._respondents = db[RESPONDENTS]

    async def ensure_indexes(self) -> None:
        """Rounds to close are found by `due_at`, which only open rounds have."""
        await self._ballots.create_index("due_at")

    async def open(self, opened: HealthCheckOpened, key: bytes) -> None:
        await self._ballots.insert_one(
            {
                "_id": opened.round_id,
                "community_id": opened.community_id,
                "template": opened.template.value,
                "card_ids": [c.card_id for c in opened.cards],
                "min_respondents": opened.min_respondents,
                "closes_at": opened.closes_at,
                "due_at": opened.closes_at,
                "state": "open",
                "key": Binary(key),
            }
        )

    async def discard(self, round_id: str) -> None:
        """Forget a round whose opening could not be published."""
        await self._ballots.delete_one({"_id": round_id})

    async def get(self, round_id: str) -> Ballot | None:
        doc = await self._ballots.find_one({"_id": round_id}, {"answers": 0})
        return _ballot(doc) if doc is not None and "community_id" in doc else None

    async def put(self, round_id: str, answer_key: str, answers: AnswerSet) -> bool:
        """Replace one answer set while the round is open; False once it is not."""
        written = await self._ballots.update_one(
            {"_id": round_id, "state": "open"},
            {"$set": {f"answers.{answer_key}": _encode(answers)}},
        )
        return written.matched_count == 1

    async def answers_at(self, round_id: str, answer_key: str) -> AnswerSet | None:
        path = f"answers.{answer_key}"
        doc = await self._ballots.find_one({"_id": round_id, "state": "open"}, {path: 1})
        stored = (doc or {}).get("answers", {}).get(answer_key)
        return _decode(stored) if stored else None

    async def answered(self, round_id: str, member_id: str) -> None:
        """Add the member to the round's respondents, kept sorted: their order never says who
        answered when."""
        with contextlib.suppress(DuplicateKeyError):  # there already: no document matched
            await self._respondents.update_one(
                {"_id": round_id, "members": {"$ne": member_id}},
                {"$push": {"members": {"$each": [member_id], "$sort": 1}}},
                upsert=True,
            )

    async def start_closing(self, round_id: str) -> tuple[Ballot, list[AnswerSet]] | None:
        """Stop the round taking answers and return them; None if it was closed already. A
        round left closing (a crash) is closed again from the same answers."""
        doc = await self._ballots.find_one_and_update(
            {"_id": round_id, "state": {"$in": ["open", "closing"]}},
            {"$set": {"state": "closing"}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return _ballot(doc), [_decode(s) for s in doc.get("answers", {}).values()]

    async def finish_closing(self, round_id: str) -> None:
        """Destroy the key and the answer sets: the closing event holds their tallies."""
        await self._ballots.update_one(
            {"_id": round_id},
            {"$set": {"state": "closed"}, "$unset": {"key": "", "answers": "", "due_at": ""}},
        )

    async def due(self, now: datetime) -> list[str]:
        """Rounds whose closing time has come, read by the `due_at` index."""
        cursor = self._ballots.find({"due_at": {"$lte": now}}, {"_id": 1}).limit(DUE_PER_READ)
        return [d["_id"] for d in await cursor.to_list(None)]

    async def respondents(self, round_ids: Iterable[str]) -> dict[str, list[str]]:
        docs = await self._respondents.find({"_id": {"$in": list(round_ids)}}).to_list(None)
        return {d["_id"]: d.get("members", []) for d in docs}


def tallies_of(round_doc: Doc) -> list[HealthCheckCardTally] | None:
    """A closed round's tallies as its closing event carried them; None without results."""
    stored = round_doc.get("tallies")
    return None if stored is None else [HealthCheckCardTally(**t) for t in stored]


def results_of(round_doc: Doc) -> Results | None:
    tallies = tallies_of(round_doc)
    return None if tallies is None else {t.card_id: card_result(t) for t in tallies}


class HealthCheckRounds:
    """The rounds' projection: its writes (staged in the projection's unit of work) and reads."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.rounds = db[ROUNDS]
        self.index = db[COMMUNITY_ROUNDS]
        self._rosters = db["rosters"]
        self._communities = db["communities"]

    # --- writes ---------------------------------------------------------------------------

    def opened(self, updates: MergedUpdates, data: HealthCheckOpened, at: datetime) -> None:
        # Without `opened_by`: the document that will hold the round's tallies and comments
        # holds no member id.
        fields = {
            **data.model_dump(mode="json", exclude={"closes_at", "opened_by"}),
            "closes_at": data.closes_at,
            "opened_at": at,
            "status": "open",
        }
        updates.set_on_insert(self.rounds, data.round_id, fields)
        self._index_entry(updates, data, opened_at=at)

    def closed(self, updates: MergedUpdates, data: HealthCheckClosed, at: datetime) -> None:
        tallies = None if data.tallies is None else [t.model_dump() for t in data.tallies]
        updates.set(
            self.rounds,
            data.round_id,
            status="closed",
            closed_at=at,
            respondents=data.respondents,
            members=data.members,
            tallies=tallies,
            comments_left_out=data.comments_left_out,
        )
        self._index_entry(updates, data, closed_at=at, results=data.tallies is not None)

    def _index_entry(
        self,
        updates: MergedUpdates,
        data: HealthCheckOpened | HealthCheckClosed,
        **fields: datetime | bool,
    ) -> None:
        """The round's entry in its community's index of rounds: its id, template and `fields`."""
        entry = f"rounds.{field_key(data.round_id)}"
        named = {"round_id": data.round_id, "template": data.template.value, **fields}
        updates.set_paths(
            self.index, data.community_id, {f"{entry}.{name}": v for name, v in named.items()}
        )

    def leader(
        self, updates: MergedUpdates, community_id: str, key: str, at: datetime, leader_id: str
    ) -> None:
        """Each change of leader under the fact that made it: the newest one leads."""
        updates.set_paths(self._communities, community_id, {f"leaders.{key}": [at, leader_id]})

    # --- reads ----------------------------------------------------------------------------

    async def round(self, round_id: str) -> Doc | None:
        """The round, once its opening is applied."""
        doc = await self.rounds.find_one({"_id": round_id})
        return doc if doc is not None and "cards" in doc else None

    async def rounds_of(self, community_id: str) -> list[Doc]:
        """The community's rounds, newest opened first."""
        index = await self.index.find_one({"_id": community_id}) or {}
        entries = [e for e in index.get("rounds", {}).values() if "opened_at" in e]
        entries.sort(key=lambda e: (e["opened_at"], e["round_id"]), reverse=True)
        ids = [e["round_id"] for e in entries]
        found = {d["_id"]: d for d in await self.rounds.find({"_id": {"$in": ids}}).to_list(None)}
        return [found[i] for i in ids if i in found]

    async def earlier_with_results(self, round_doc: Doc, depth: int) -> list[Doc]:
        """Up to `depth` closed rounds with results of the same community and template that
        closed before this one, the latest first."""
        index = await self.index.find_one({"_id": round_doc["community_id"]}) or {}
        mine = (round_doc["closed_at"], round_doc["_id"])
        earlier = sorted(
            (
                (e["closed_at"], e["round_id"])
                for e in index.get("rounds", {}).values()
                if e.get("results")
                and e.get("template") == round_doc["template"]
                and (e["closed_at"], e["round_id"]) < mine
            ),
            reverse=True,
        )[:depth]
        ids = [round_id for _, round_id in earlier]
        found = {d["_id"]: d for d in await self.rounds.find({"_id": {"$in": ids}}).to_list(None)}
        return [found[i] for i in ids if i in found]

    async def members(self, community_id: str, at: datetime) -> tuple[str | None, set[str]]:
        """The community's leader and its members at `at`, the leader included."""
        community = await self._communities.find_one({"_id": community_id}, {"leaders": 1})
        leader = latest_change((community or {}).get("leaders"))
        roster = await self._rosters.find_one({"_id": community_id}) or {}
        membership = {
            m["id"]: [(when, kind) for when, kind in m.get("e", {}).values()]
            for m in roster.get("m", {}).values()
        }
        members = members_at(membership, at)
        if leader is not None:
            members.add(leader)
        return leader, members
