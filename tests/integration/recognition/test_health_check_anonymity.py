"""Answers to a health check are anonymous for real: after a round closes, neither the
service's MongoDB documents nor the records on its topic put a member id next to an answer,
and the round's key (which alone could recompute where a member's answers were) is gone."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import json_util
from pymongo import AsyncMongoClient

from tests.infra import Infrastructure
from tests.integration.recognition.health_check_world import Stack, community, running

pytestmark = pytest.mark.integration

MARKERS = ("qx-ballots-arrive-late", "qx-keep-the-demos", "qx-pairing-helped", "qx-more-katas")


@pytest.fixture(scope="module")
async def stack(infra: Infrastructure) -> AsyncIterator[Stack]:
    async for running_stack in running(infra):
        yield running_stack


async def every_document(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection of the service's database."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.infra.mongodb_uri)
    try:
        db = client[stack.settings.mongodb_database]
        return {
            name: await db[name].find({}).to_list(None) for name in await db.list_collection_names()
        }
    finally:
        await client.close()


def holds_answers(text: str) -> bool:
    """What only answers (or their tallies) carry: a comment, a colour counted, an answer set."""
    return any(m in text for m in MARKERS) or any(
        key in text for key in ('"answers"', '"tallies"', '"colour"')
    )


async def test_no_member_id_is_kept_or_published_next_to_an_answer(stack: Stack) -> None:
    guild = await community(stack, 4)
    people = [guild.leader, *guild.members]
    round_id = await guild.open_round()
    # Answered out of the comments' order, one member changing theirs, the leader answering.
    comments = dict(zip(people, reversed(MARKERS), strict=False))
    for member in (guild.members[2], guild.leader, guild.members[0], guild.members[1]):
        colour = "red" if member == guild.members[0] else "green"
        cards = {
            "help": {"colour": colour, "comment": comments[member]},
            "fun": {"colour": "amber"},
        }
        response = await guild.answer(round_id, member, cards)
        assert response.status_code == 200, response.text
    changed = {"help": {"colour": "amber", "comment": comments[guild.members[0]]}}
    assert (await guild.answer(round_id, guild.members[0], changed)).status_code == 200

    # While open: the ballot box holds the answers without any member id; who answered is
    # recorded elsewhere, without the answers.
    open_docs = await every_document(stack)
    ballot = next(d for d in open_docs["health_check_ballots"] if d["_id"] == round_id)
    assert len(ballot["answers"]) == 4
    assert "key" in ballot
    assert not any(p in json_util.dumps(ballot) for p in people)
    respondents = next(d for d in open_docs["health_check_respondents"] if d["_id"] == round_id)
    # Sorted, not in the order they answered (the third member answered first).
    assert respondents["members"] == sorted([guild.leader, *guild.members[:3]])
    assert not holds_answers(json_util.dumps(respondents))

    await guild.close(round_id)

    documents = await every_document(stack)
    ballot = next(d for d in documents["health_check_ballots"] if d["_id"] == round_id)
    assert "key" not in ballot
    assert "answers" not in ballot
    assert ballot["state"] == "closed"
    respondents = next(d for d in documents["health_check_respondents"] if d["_id"] == round_id)
    assert respondents["members"] == sorted(respondents["members"])
    with_answers = []
    for name, docs in documents.items():
        for doc in docs:
            text = json_util.dumps(doc)
            if holds_answers(text):
                with_answers.append(name)
                assert not any(p in text for p in people), (name, doc)
    # The answers are still there, as tallies: the check above looked at them.
    assert "health_checks" in with_answers

    records = await stack.raw_records()
    published_answers = [r for r in records if holds_answers(r.decode())]
    assert published_answers, "the closing event carries the tallies and comments"
    for record in published_answers:
        text = record.decode()
        assert not any(p in text for p in people), text
    types = {json.loads(r)["type"] for r in records if round_id.encode() in r}
    # Nothing is published per answer: the round's opening, its closing, and alerts.
    assert types <= {
        "cop.health_check.opened.v1",
        "cop.health_check.closed.v1",
        "cop.health.alert_raised.v1",
    }, types
    assert {"cop.health_check.opened.v1", "cop.health_check.closed.v1"} <= types

    # The closing event's comments are sorted, not in the order they were given.
    closed = next(
        e
        for e in await stack.records("cop.health_check.closed.v1")
        if e["data"]["round_id"] == round_id
    )
    help_tally = next(t for t in closed["data"]["tallies"] if t["card_id"] == "help")
    assert help_tally["comments"] == sorted(comments.values())
