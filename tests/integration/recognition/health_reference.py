"""Community health computed again, from the definitions of docs/recognition.md alone.

A reference for the tests: the expected numbers come from here, never from the recognition
service's code (nothing in this module imports it). It works on a plain list of facts — the
CloudEvent type, the CloudEvent `time` and the event's data as JSON — and recomputes everything
from scratch for each question, which is slow and obviously right rather than fast. The tests
compare its numbers with the service's answers over the contract's metric names
(`shared.community_health.METRICS`).

The definitions, as read here:

- A period P is [start, end) in UTC: a month `YYYY-MM` or a quarter `YYYY-Qn`.
- Members of P: the latest joined/left event of the member in the community before `end` is a
  join.
- The ledger (per community, at the fact's time): a held session gives 3 to each speaker and 3 to
  the facilitator and takes 1 from each attendee who is neither; a published artifact gives 3 to
  each author; a revision gives 1 to the editor; a kudos gives 1 to the giver per counted
  recipient; feedback gives 1 to its member; a closed action item gives 2 to its owner; a reuse
  takes 1 from the member. Speaker and attendee lists count each member once.
- Activity: any ledger entry of the member in the community.
- A member's team at a time: the latest `member.profile_updated` with time <= that time; "" (no
  profile, or an empty team) is unknown.
- Ratios and means: Python's round(x, 4); 0 when the denominator is 0.

Kudos are all taken as counted: the histories the tests build make sure of it, and
`ambiguities` says so when they do not.
"""

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

JOINED = "cop.member.joined.v1"
LEFT = "cop.member.left.v1"
PROFILE_UPDATED = "cop.member.profile_updated.v1"
SESSION_HELD = "cop.session.held.v1"
FEEDBACK_SUBMITTED = "cop.feedback.submitted.v1"
ACTION_ITEM_OPENED = "cop.action_item.opened.v1"
ACTION_ITEM_CLOSED = "cop.action_item.closed.v1"
ARTIFACT_PUBLISHED = "cop.artifact.published.v1"
ARTIFACT_REVISED = "cop.artifact.revised.v1"
ARTIFACT_REUSED = "cop.artifact.reused.v1"
KUDOS_GIVEN = "cop.kudos.given.v1"


INACTIVITY_WINDOW = timedelta(days=90)
KUDOS_ALLOWANCE_PER_MONTH = 20
SAFE_VALUE_TAGS = frozenset({"collaboration", "helpfulness", "knowledge_sharing", "mentoring"})
"""Value tags in the service's default list: a history using only these is judged `counted`."""

Metrics = dict[str, int | float]


class Fact(NamedTuple):
    type: str
    time: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Period:
    key: str
    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Entry:
    """One ledger line: points a member gave (or took) in a community at a time."""

    member_id: str
    time: datetime
    give: int
    take: int


# --- periods ---


def period(key: str) -> Period:
    """`YYYY-MM` or `YYYY-Qn` as [start, end) in UTC."""
    year_text, _, rest = key.partition("-")
    year = int(year_text)
    if rest.startswith("Q"):
        quarter = int(rest[1:])
        if not 1 <= quarter <= 4:
            raise ValueError(f"not a quarter: {key}")
        first_month, months = 3 * (quarter - 1) + 1, 3
    else:
        first_month, months = int(rest), 1
        if not 1 <= first_month <= 12:
            raise ValueError(f"not a month: {key}")
    start = datetime(year, first_month, 1, tzinfo=UTC)
    return Period(key, start, _add_months(start, months))


def previous(key: str) -> str:
    """The period of the same kind just before `key`."""
    year_text, _, rest = key.partition("-")
    year = int(year_text)
    if rest.startswith("Q"):
        quarter = int(rest[1:])
        return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
    month = int(rest)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def months(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included."""
    keys = [first]
    while keys[-1] != last:
        start = period(keys[-1]).end
        if start > period(last).start:
            raise ValueError(f"{first} is after {last}")
        keys.append(f"{start.year}-{start.month:02d}")
    return keys


def month_of(moment: datetime) -> str:
    return f"{moment.year}-{moment.month:02d}"


def _add_months(moment: datetime, n: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + n
    return moment.replace(year=index // 12, month=index % 12 + 1)


# --- the ledger, membership, teams ---


def _in(facts: Iterable[Fact], community_id: str, *types: str) -> list[Fact]:
    return [f for f in facts if f.type in types and f.data.get("community_id") == community_id]


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def ledger(facts: Iterable[Fact], community_id: str) -> list[Entry]:
    """Every ledger entry of the community, in the order of the facts."""
    entries: list[Entry] = []
    for fact in facts:
        data, at = fact.data, fact.time
        if data.get("community_id") != community_id:
            continue
        if fact.type == SESSION_HELD:
            speakers = _unique(data["speaker_ids"])
            facilitator = data["facilitator_id"]
            entries += [Entry(s, at, 3, 0) for s in speakers]
            entries.append(Entry(facilitator, at, 3, 0))
            entries += [
                Entry(a, at, 0, 1)
                for a in _unique(data["attendee_ids"])
                if a not in speakers and a != facilitator
            ]
        elif fact.type == ARTIFACT_PUBLISHED:
            entries += [Entry(a, at, 3, 0) for a in _unique(data["author_ids"])]
        elif fact.type == ARTIFACT_REVISED:
            entries.append(Entry(data["editor_id"], at, 1, 0))
        elif fact.type == KUDOS_GIVEN:
            # Every recipient counted (see `ambiguities`): one point per recipient.
            entries += [Entry(data["from_id"], at, 1, 0) for _ in _unique(data["to_ids"])]
        elif fact.type == FEEDBACK_SUBMITTED:
            entries.append(Entry(data["member_id"], at, 1, 0))
        elif fact.type == ACTION_ITEM_CLOSED:
            entries.append(Entry(data["owner_id"], at, 2, 0))
        elif fact.type == ARTIFACT_REUSED:
            entries.append(Entry(data["member_id"], at, 0, 1))
    return entries


def members_at(facts: Iterable[Fact], community_id: str, end: datetime) -> set[str]:
    """Members of a period ending at `end`: their latest membership event before it is a join."""
    latest: dict[str, Fact] = {}
    for fact in sorted(_in(facts, community_id, JOINED, LEFT), key=lambda f: f.time):
        if fact.time < end:
            latest[fact.data["member_id"]] = fact
    return {member for member, fact in latest.items() if fact.type == JOINED}


class Teams:
    """Who was in which team when, from the profile updates."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self._updates = sorted(
            ((f.time, f.data["member_id"], f.data.get("team", "")) for f in facts
             if f.type == PROFILE_UPDATED),
            key=lambda u: u[0],
        )  # fmt: skip

    def at(self, member_id: str, moment: datetime) -> str:
        """The team of the latest update with time <= `moment`; "" when unknown."""
        team = ""
        for time, member, value in self._updates:
            if time > moment:
                break
            if member == member_id:
                team = value
        return team


# --- the metrics ---


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator else 0


def _give_per_member(entries: Iterable[Entry], p: Period) -> dict[str, int]:
    points: dict[str, int] = {}
    for entry in entries:
        if entry.time in p and entry.give:
            points[entry.member_id] = points.get(entry.member_id, 0) + entry.give
    return {m: g for m, g in points.items() if g > 0}


def absence_factor(points: Iterable[int]) -> int:
    """The fewest contributors, biggest first, whose points reach at least half of the total."""
    ordered = sorted(points, reverse=True)
    total, running = sum(ordered), 0
    if not total:
        return 0
    for n, value in enumerate(ordered, start=1):
        running += value
        if 2 * running >= total:
            return n
    raise AssertionError("not reached")


def top20_share(points: Iterable[int]) -> float:
    ordered = sorted(points, reverse=True)
    top = math.ceil(0.2 * len(ordered))
    return _ratio(sum(ordered[:top]), sum(ordered))


def health(facts: Sequence[Fact], community_id: str, key: str) -> Metrics:
    """Every metric of the community for the period `key` (`YYYY-MM` or `YYYY-Qn`)."""
    p = period(key)
    teams = Teams(facts)
    entries = ledger(facts, community_id)
    members = members_at(facts, community_id, p.end)

    joined_in_p = {f.data["member_id"] for f in _in(facts, community_id, JOINED) if f.time in p}
    active = {e.member_id for e in entries if e.time in p} & members
    recent = {e.member_id for e in entries if p.end - INACTIVITY_WINDOW <= e.time < p.end}

    sessions = [f for f in _in(facts, community_id, SESSION_HELD) if f.time in p]
    attendees = [_unique(s.data["attendee_ids"]) for s in sessions]
    consistent = {m for m in members if 2 * sum(m in group for group in attendees) >= len(sessions)}
    cross_team_sessions = 0
    for s in sessions:
        people = {s.data["facilitator_id"], *s.data["speaker_ids"], *s.data["attendee_ids"]}
        known = {teams.at(m, s.time) for m in people} - {""}
        cross_team_sessions += len(known) >= 2

    published = _in(facts, community_id, ARTIFACT_PUBLISHED)
    authors = {f.data["artifact_id"]: _unique(f.data["author_ids"]) for f in published}
    reuses = [f for f in _in(facts, community_id, ARTIFACT_REUSED) if f.time in p]
    cross_team_reuses = 0
    for r in reuses:
        author_teams = {teams.at(a, r.time) for a in authors.get(r.data["artifact_id"], [])}
        cross_team_reuses += teams.at(r.data["member_id"], r.time) not in author_teams

    held_before_end = sorted(
        (f for f in _in(facts, community_id, SESSION_HELD) if f.time < p.end),
        key=lambda f: f.time,
    )
    last6 = held_before_end[-6:]

    feedback = [f for f in _in(facts, community_id, FEEDBACK_SUBMITTED) if f.time in p]
    opened = {
        f.data["action_item_id"]
        for f in _in(facts, community_id, ACTION_ITEM_OPENED)
        if f.time in p
    }
    closed_by_end = {
        f.data["action_item_id"]
        for f in _in(facts, community_id, ACTION_ITEM_CLOSED)
        if f.time < p.end
    }

    give = _give_per_member(entries, p)
    return {
        "members": len(members),
        "new_members": len(joined_in_p),
        "active_members": len(active),
        "participation_rate": _ratio(len(active), len(members)),
        "inactive_members": len(members - recent),
        "sessions_held": len(sessions),
        "avg_attendance": _ratio(sum(len(a) for a in attendees), len(sessions)),
        "attendance_consistency": _ratio(len(consistent), len(members)) if sessions else 0,
        "artifacts_published": sum(f.time in p for f in published),
        "reuses": len(reuses),
        "cross_team_reuses": cross_team_reuses,
        "cross_team_sessions": cross_team_sessions,
        "absence_factor": absence_factor(give.values()),
        "top20_share": top20_share(give.values()),
        "facilitators_last6": len({f.data["facilitator_id"] for f in last6}),
        "sessions_last6": len(last6),
        "avg_rating": _ratio(sum(f.data["rating"] for f in feedback), len(feedback)),
        "applied_share": _ratio(sum(bool(f.data["applied"]) for f in feedback), len(feedback)),
        "action_closure_rate": _ratio(len(opened & closed_by_end), len(opened)),
        "contributors_with_give": len(give),
    }


# --- alerts ---


def alerts(facts: Sequence[Fact], community_id: str, keys: Sequence[str]) -> list[tuple[str, str]]:
    """(alert, month) for every month of `keys` whose numbers call for an alert."""
    raised: list[tuple[str, str]] = []
    for key in keys:
        now = health(facts, community_id, key)
        attendance = [now["avg_attendance"]]
        earlier = key
        for _ in range(3):
            earlier = previous(earlier)
            attendance.insert(0, health(facts, community_id, earlier)["avg_attendance"])
        if all(a > b for a, b in itertools.pairwise(attendance)):
            raised.append(("stagnation", key))
        if now["top20_share"] > 0.8 and now["contributors_with_give"] >= 5:
            raised.append(("dominance", key))
        if now["facilitators_last6"] == 1 and now["sessions_last6"] >= 4:
            raised.append(("single_facilitator", key))
    return raised


# --- is the history one whose numbers the definitions decide alone? ---


def ambiguities(facts: Sequence[Fact], community_id: str, keys: Sequence[str]) -> list[str]:
    """Where a history leans on a reading of the definitions that another could differ from.

    The tests build their histories so this is empty: then every sensible reading gives the
    numbers above, and a mismatch with the service is a mismatch with the definitions.
    """
    problems: list[str] = []
    times = [f.time for f in facts]
    if len(set(times)) != len(times):
        problems.append("two facts share a time (order, 'before' vs 'at or before')")
    teams = Teams(facts)
    entries = ledger(facts, community_id)

    membership = sorted(_in(facts, community_id, JOINED, LEFT), key=lambda f: f.time)
    joins: dict[str, int] = {}
    for fact in membership:
        if fact.type == JOINED:
            joins[fact.data["member_id"]] = joins.get(fact.data["member_id"], 0) + 1
    problems += [f"{m} joins more than once" for m, n in joins.items() if n > 1]

    for key in keys:
        p = period(key)
        members = members_at(facts, community_id, p.end)
        in_p = [f for f in membership if f.time in p]
        for fact in in_p:
            if fact.type == LEFT and any(
                j.type == JOINED and j.data["member_id"] == fact.data["member_id"] for j in in_p
            ):
                problems.append(f"{key}: {fact.data['member_id']} joins and leaves in it")
        # "members with give > 0" = anyone with give > 0 (absence factor's wording) when every
        # giver is a member of the period.
        outsiders = set(_give_per_member(entries, p)) - members
        if outsiders:
            problems.append(f"{key}: givers who are not members of it: {sorted(outsiders)}")
        # "attended": in attendee_ids, or also as speaker or facilitator — the same verdicts.
        sessions = [f for f in _in(facts, community_id, SESSION_HELD) if f.time in p]
        for m in members:
            listed = sum(m in s.data["attendee_ids"] for s in sessions)
            present = sum(
                m in {*s.data["attendee_ids"], *s.data["speaker_ids"], s.data["facilitator_id"]}
                for s in sessions
            )
            if (2 * listed >= len(sessions)) != (2 * present >= len(sessions)):
                problems.append(f"{key}: whether {m} attended half the sessions depends on roles")

    for s in _in(facts, community_id, SESSION_HELD):
        d = s.data
        if d["facilitator_id"] in d["speaker_ids"]:
            problems.append(f"{d['session_id']}: the facilitator is also a speaker")
        if len(set(d["attendee_ids"])) != len(d["attendee_ids"]) or len(
            set(d["speaker_ids"])
        ) != len(d["speaker_ids"]):
            problems.append(f"{d['session_id']}: a repeated attendee or speaker")
    held = [s.data["session_id"] for s in _in(facts, community_id, SESSION_HELD)]
    if len(set(held)) != len(held):
        problems.append("a session is held twice")

    published = {f.data["artifact_id"]: f for f in _in(facts, community_id, ARTIFACT_PUBLISHED)}
    for r in _in(facts, community_id, ARTIFACT_REUSED):
        member, art = r.data["member_id"], published.get(r.data["artifact_id"])
        team = teams.at(member, r.time)
        if not team or r.data.get("team", "") != team:
            problems.append(f"reuse by {member}: the event's team is not the profile's known team")
        if art is None or art.time > r.time:
            problems.append(f"reuse by {member}: of an artifact not published before")
            continue
        for author in art.data["author_ids"]:
            then, now = teams.at(author, art.time), teams.at(author, r.time)
            if not now or then != now:
                problems.append(f"reuse by {member}: author {author}'s team unknown or changed")

    opened = {
        f.data["action_item_id"]: f.time for f in _in(facts, community_id, ACTION_ITEM_OPENED)
    }
    for c in _in(facts, community_id, ACTION_ITEM_CLOSED):
        if c.data["action_item_id"] not in opened or opened[c.data["action_item_id"]] > c.time:
            problems.append(f"{c.data['action_item_id']}: closed but not opened before")

    problems += kudos_not_surely_counted(facts)
    return problems


def kudos_not_surely_counted(facts: Sequence[Fact]) -> list[str]:
    """Kudos recipients that the judge could refuse (in any community: the allowance is the
    giver's)."""
    problems: list[str] = []
    used: dict[tuple[str, str], int] = {}
    for k in sorted((f for f in facts if f.type == KUDOS_GIVEN), key=lambda f: f.time):
        d = k.data
        if d["value_tag"] not in SAFE_VALUE_TAGS:
            problems.append(f"{d['kudos_id']}: value tag {d['value_tag']!r}")
        if d["from_id"] in d["to_ids"] or len(set(d["to_ids"])) != len(d["to_ids"]):
            problems.append(f"{d['kudos_id']}: self kudos or a repeated recipient")
        slot = (d["from_id"], month_of(k.time))
        used[slot] = used.get(slot, 0) + len(d["to_ids"])
        if used[slot] > KUDOS_ALLOWANCE_PER_MONTH // 2:
            problems.append(f"{d['kudos_id']}: the giver nears the monthly allowance")
    return problems
