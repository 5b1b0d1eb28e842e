"""The backlog's rules without I/O: who proposes and votes, the budget of active votes, what a
topic's status allows, merging and reopening, and the orders of the list."""

from datetime import UTC, datetime, timedelta

import pytest

from services.events.domain import topic as rules
from services.events.domain.actor import Actor
from services.events.domain.community import CommunityState
from services.events.domain.topic import Ballot, Listed, TopicState, TopicStatus
from shared.events.catalog import (
    Role,
    SessionFormat,
    SessionScheduled,
    Stage,
    TopicProposed,
    TopicVoted,
)
from shared.refusals import Forbidden, Invalid, Refused

LEADER, CORE, ANN, ZED = Actor("lea"), Actor("cory"), Actor("ann"), Actor("zed")
ADMIN = Actor("ops", is_admin=True)
T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)


def guild() -> CommunityState:
    members = {"lea": Role.CORE, "cory": Role.CORE, "ann": Role.MEMBER, "bob": Role.MEMBER}
    return CommunityState("c1", "lea", Stage.COALESCING, members)


def topic(
    topic_id: str = "t1", status: TopicStatus = TopicStatus.OPEN, *voters: str, **extra: object
) -> TopicState:
    return TopicState(
        topic_id,
        "c1",
        status,
        title="Chaos engineering",
        proposed_by="bob",
        voter_ids=voters,
        **extra,  # type: ignore[arg-type]
    )


def ballot(*active: str, budget: int = 2) -> Ballot:
    return Ballot(budget, frozenset(active))


def test_members_propose_in_their_own_name_and_others_do_not() -> None:
    asked = TopicProposed(topic_id="t1", community_id="c1", title="Pairing", proposed_by="bob")

    assert rules.propose(guild(), ANN, asked).proposed_by == "ann"
    for outsider in (ZED, ADMIN):
        with pytest.raises(Forbidden) as refused:
            rules.propose(guild(), outsider, asked)
        assert refused.value.code == "not_a_member"


def test_a_vote_within_the_budget_is_recorded_and_a_second_changes_nothing() -> None:
    assert rules.vote(guild(), topic(), ballot("t9"), ANN) == TopicVoted(
        topic_id="t1", community_id="c1", member_id="ann"
    )
    assert rules.vote(guild(), topic("t1", TopicStatus.OPEN, "ann"), ballot("t1"), ANN) is None


def test_a_vote_over_the_budget_is_refused_with_the_budget_and_the_active_votes() -> None:
    with pytest.raises(Refused) as refused:
        rules.vote(guild(), topic(), ballot("t8", "t9"), ANN)

    assert refused.value.code == "vote_budget_exhausted"
    assert refused.value.details == {"budget": 2, "active": 2}


def test_a_vote_on_a_topic_that_is_not_open_is_refused_and_a_stranger_is_forbidden() -> None:
    for status in (TopicStatus.SCHEDULED, TopicStatus.DECLINED, TopicStatus.MERGED):
        with pytest.raises(Refused) as refused:
            rules.vote(guild(), topic("t1", status), ballot(), ANN)
        assert refused.value.code == "topic_not_open"
    with pytest.raises(Forbidden):
        rules.vote(guild(), topic("t1", TopicStatus.DECLINED), ballot(), ZED)


def test_a_vote_is_taken_back_only_while_the_topic_is_open() -> None:
    assert rules.unvote(guild(), topic(), ANN) is None
    assert rules.unvote(guild(), topic("t1", TopicStatus.OPEN, "ann"), ANN) is not None
    with pytest.raises(Refused, match="open"):
        rules.unvote(guild(), topic("t1", TopicStatus.SCHEDULED, "ann"), ANN)


def test_scheduling_links_the_session_to_the_topic_and_carries_its_voters() -> None:
    session = SessionScheduled(
        session_id="s1",
        community_id="c1",
        title="Chaos engineering",
        format=SessionFormat.WORKSHOP,
        starts_at=T0,
        duration_minutes=60,
        facilitator_id="lea",
    )
    voted = topic("t1", TopicStatus.OPEN, "ann", "bob")

    scheduled = rules.schedule(guild(), voted, None, session, CORE)

    assert (scheduled.topic_id, scheduled.voter_ids) == ("t1", ["ann", "bob"])
    assert scheduled.agenda  # the default agenda, as any session gets
    with pytest.raises(Forbidden):
        rules.schedule(guild(), voted, None, session, ANN)


def test_merging_needs_two_open_topics_of_one_community() -> None:
    source, target = topic("t1"), topic("t2")

    merged = rules.merge(guild(), source, target, LEADER, into_topic_id="t2")
    assert (merged.into_topic_id, merged.merged_by) == ("t2", "lea")
    with pytest.raises(Invalid) as into_itself:
        rules.merge(guild(), source, source, LEADER, into_topic_id="t1")
    assert into_itself.value.details["field"] == "into_topic_id"
    with pytest.raises(Invalid):
        rules.merge(guild(), source, None, LEADER, into_topic_id="t404")
    elsewhere = TopicState("t3", "c2", TopicStatus.OPEN, "Other", "bob")
    with pytest.raises(Invalid):
        rules.merge(guild(), source, elsewhere, LEADER, into_topic_id="t3")
    with pytest.raises(Refused, match="open"):
        rules.merge(guild(), source, topic("t2", TopicStatus.DONE), LEADER, into_topic_id="t2")


def test_declined_topics_and_those_whose_session_was_cancelled_reopen() -> None:
    assert rules.reopen(guild(), topic("t1", TopicStatus.DECLINED), CORE).reopened_by == "cory"
    cancelled = topic("t1", TopicStatus.SCHEDULED, session_id="s1", session_cancelled=True)
    assert rules.reopen(guild(), cancelled, LEADER)
    for status in (TopicStatus.OPEN, TopicStatus.SCHEDULED, TopicStatus.DONE, TopicStatus.MERGED):
        with pytest.raises(Refused) as refused:
            rules.reopen(guild(), topic("t1", status), LEADER)
        assert refused.value.code == "topic_not_reopenable"


def listed(
    topic_id: str, votes: int, minutes: int, *, volunteers: int = 0, status: str = "open"
) -> Listed:
    return Listed(topic_id, TopicStatus(status), votes, T0 + timedelta(minutes=minutes), volunteers)


def test_wanted_orders_by_active_votes_then_the_earliest_proposed_then_the_id() -> None:
    topics = [
        listed("t-c", 2, 5),
        listed("t-b", 2, 0),
        listed("t-a", 2, 0),
        listed("t-d", 9, 0, status="scheduled"),
        listed("t-e", 3, 9),
    ]

    assert [t.topic_id for t in rules.wanted(topics)] == ["t-e", "t-a", "t-b", "t-c", "t-d"]
    assert [t.topic_id for t in rules.newest(topics)] == ["t-e", "t-c", "t-a", "t-b", "t-d"]


def test_ready_lists_open_topics_with_a_volunteer_as_wanted_orders_them() -> None:
    topics = [
        listed("t-a", 1, 0, volunteers=1),
        listed("t-b", 4, 0),
        listed("t-c", 2, 3, volunteers=2),
        listed("t-d", 5, 0, volunteers=1, status="declined"),
    ]

    assert [t.topic_id for t in rules.ready(topics)] == ["t-c", "t-a"]


def test_the_ballot_never_shows_less_than_nothing_left() -> None:
    over = Ballot(2, frozenset({"t1", "t2", "t3"}))
    assert (over.active, over.left) == (3, 0)
