"""When kept health numbers stop being true: a fact of time t changes no period that ended
before t's month began, so marking that month on is enough; months read with an artifact of
unknown authors are not kept; what is kept composes into the same numbers."""

import random
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.recognition import rebuild
from services.recognition.adapters.health_store import (
    COLLECTIONS,
    code_fingerprint,
    facts_doc,
    facts_of,
)
from services.recognition.adapters.projection import PROJECTION
from services.recognition.domain.health import (
    Activity,
    Feedback,
    HeldSession,
    History,
    OpenedAction,
    Reuse,
    Teams,
    compose,
    metrics,
    month_facts,
    months_for,
)
from services.recognition.domain.health_staleness import changed_from, keepable, marks_through
from services.recognition.domain.periods import month_range, parse

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 240  # January to August 2026
PERIODS = [*month_range("2026-01", "2026-08"), parse("2026-Q1"), parse("2026-Q2")]
PEOPLE = [f"m{i}" for i in range(12)]
TEAMS = ["red", "blue", "green", ""]
ARTIFACTS = [f"p{i}" for i in range(4)]


def moment(rng: random.Random) -> datetime:
    return START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))


def session(rng: random.Random, name: str, at: datetime) -> HeldSession:
    people = rng.sample(PEOPLE, 8)
    return HeldSession(name, at, people[0], tuple(people[1:3]), tuple(people[3:]))


def random_history(rng: random.Random) -> History:
    opened = []
    for n in range(10):
        at = moment(rng)
        closed = at + timedelta(days=rng.randint(0, 60)) if rng.random() < 0.6 else None
        opened.append(OpenedAction(f"a{n}", at, closed))
    sessions = [session(rng, f"s{n}", moment(rng)) for n in range(14)]
    return History(
        activity=[
            Activity(rng.choice(PEOPLE), rng.choice([0, 1, 3]), rng.choice([0, 1]), moment(rng))
            for _ in range(90)
        ],
        sessions=sessions,
        recent_sessions=sessions,
        feedback=[Feedback(rng.randint(1, 5), rng.random() < 0.5, moment(rng)) for _ in range(20)],
        published=[moment(rng) for _ in range(5)],
        reuses=[
            Reuse(rng.choice(ARTIFACTS), rng.choice(PEOPLE), rng.choice(TEAMS), moment(rng))
            for _ in range(12)
        ],
        opened_actions=opened,
        membership={
            m: [(moment(rng), "joined")] + ([(moment(rng), "left")] if rng.random() < 0.3 else [])
            for m in PEOPLE
        },
        teams=Teams(
            {
                m: [(moment(rng), rng.choice(TEAMS)) for _ in range(rng.randint(0, 2))]
                for m in PEOPLE
            }
        ),
        authors={a: rng.sample(PEOPLE, 2) for a in ARTIFACTS},
    )


LateFact = Callable[[History, datetime, random.Random], History]


def activity(h: History, at: datetime, rng: random.Random) -> History:
    return replace(h, activity=[*h.activity, Activity(rng.choice(PEOPLE), 3, 0, at)])


def held(h: History, at: datetime, rng: random.Random) -> History:
    sessions = [*h.sessions, session(rng, "late", at)]
    return replace(h, sessions=sessions, recent_sessions=sessions)


def feedback(h: History, at: datetime, rng: random.Random) -> History:
    return replace(h, feedback=[*h.feedback, Feedback(1, True, at)])


def published(h: History, at: datetime, rng: random.Random) -> History:
    return replace(h, published=[*h.published, at])


def reused(h: History, at: datetime, rng: random.Random) -> History:
    reuse = Reuse(rng.choice(ARTIFACTS), rng.choice(PEOPLE), rng.choice(TEAMS), at)
    return replace(h, reuses=[*h.reuses, reuse])


def opened(h: History, at: datetime, rng: random.Random) -> History:
    return replace(h, opened_actions=[*h.opened_actions, OpenedAction("late", at, None)])


def closed(h: History, at: datetime, rng: random.Random) -> History:
    """An item closed at `at` (the earliest closing counts), whenever it was opened."""
    item = rng.choice(h.opened_actions)
    sooner = at if item.closed_at is None else min(item.closed_at, at)
    actions = [replace(a, closed_at=sooner) if a is item else a for a in h.opened_actions]
    return replace(h, opened_actions=actions)


def membership(h: History, at: datetime, rng: random.Random) -> History:
    member = rng.choice(PEOPLE)
    change = (at, rng.choice(["joined", "left"]))
    return replace(h, membership={**h.membership, member: [*h.membership[member], change]})


def team_change(h: History, at: datetime, rng: random.Random) -> History:
    member = rng.choice(PEOPLE)
    changes = {**h.teams.changes, member: [*h.teams.changes.get(member, []), (at, "blue")]}
    return replace(h, teams=Teams(changes))


LATE: dict[str, LateFact] = {
    "activity": activity,
    "session held": held,
    "feedback": feedback,
    "artifact published": published,
    "artifact reused": reused,
    "action item opened": opened,
    "action item closed": closed,
    "join or leave": membership,
    "team change": team_change,
}


@pytest.mark.parametrize("kind", sorted(LATE))
def test_a_fact_changes_no_period_that_its_mark_leaves_out(kind: str) -> None:
    """Marking the month of a fact's time and every later one covers all it can change: a
    period without that mark keeps its numbers, whatever the history and the fact."""
    changed_somewhere = 0
    for seed in range(60):
        rng = random.Random(seed)
        before = random_history(rng)
        at = moment(rng)
        after = LATE[kind](before, at, rng)
        marks = {changed_from(at): 1}
        for period in PERIODS:
            now = metrics(period, after)
            if marks_through(marks, period) == 0:
                assert now == metrics(period, before), (seed, period.key, at)
            else:
                changed_somewhere += now != metrics(period, before)
    assert changed_somewhere > 0  # the facts do change the periods they mark


def test_a_publication_changes_earlier_months_so_those_waiting_for_authors_are_not_kept() -> None:
    """Authors are the exception: known only once the artifact is published, they change the
    cross-team reuses of any month that reused it, however early."""
    reuse = Reuse("new", "m1", "red", datetime(2026, 2, 10, tzinfo=UTC))
    teams = Teams({"m1": [(START, "red")], "m2": [(START, "red")]})
    before = replace(random_history(random.Random(1)), reuses=[reuse], teams=teams)
    after = replace(before, authors={**before.authors, "new": ["m2"]})
    february = parse("2026-02")
    assert metrics(february, before).cross_team_reuses == 1
    assert metrics(february, after).cross_team_reuses == 0
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert not keepable(february, {"2026-02": month_facts(february, before)}, now)
    assert keepable(february, {"2026-02": month_facts(february, after)}, now)


def test_a_period_not_ended_is_never_kept() -> None:
    history = random_history(random.Random(2))
    march = parse("2026-03")
    facts = {"2026-03": month_facts(march, history)}
    assert keepable(march, facts, march.end)
    assert not keepable(march, facts, march.end - timedelta(microseconds=1))


def test_marks_count_up_to_a_periods_last_month() -> None:
    marks = {"2026-01": 2, "2026-03": 1, "2026-05": 4}
    counted = {p.key: marks_through(marks, p) for p in PERIODS}
    assert counted == {
        "2026-01": 2, "2026-02": 2, "2026-03": 3, "2026-04": 3, "2026-05": 7, "2026-06": 7,
        "2026-07": 7, "2026-08": 7, "2026-Q1": 3, "2026-Q2": 7,
    }  # fmt: skip
    assert marks_through(marks, parse("2025-12")) == 0


@pytest.mark.parametrize("seed", range(10))
def test_months_kept_and_read_back_compose_into_the_same_numbers(seed: int) -> None:
    history = random_history(random.Random(seed))
    for period in PERIODS:
        months = {m: month_facts(parse(m), history) for m in months_for(period)}
        read_back = {m: facts_of(facts_doc(f)) for m, f in months.items()}
        closed_at = {a.action_item_id: a.closed_at for a in history.opened_actions}
        composed = compose(period, read_back, history.membership, closed_at, history.sessions)
        assert composed == metrics(period, history), period.key


def test_the_fingerprint_changes_with_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "counting_rules.py"
    module.write_text("LIMIT = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = code_fingerprint(["counting_rules"])
    assert code_fingerprint(["counting_rules"]) == first
    module.write_text("LIMIT = 2\n")
    assert code_fingerprint(["counting_rules"]) != first
    sys.modules.pop("counting_rules", None)


def test_a_rebuild_drops_the_kept_numbers_and_their_marks_beside_the_projection() -> None:
    assert set(COLLECTIONS) <= set(rebuild.COLLECTIONS)
    assert not set(COLLECTIONS) & set(PROJECTION)  # a replay's comparison leaves them out
