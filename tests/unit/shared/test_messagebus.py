"""The typed handler registry: each event to its handler, in order, in one unit of work."""

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from shared.consumer import ConsumedEvent, ConsumedRecord
from shared.events.catalog import BadgeAwarded, KudosGiven, MemberProfileUpdated
from shared.events.codec import decode
from shared.events.envelope import new_event
from shared.messagebus import EventHandlers, Fact


def consumed(data: BaseModel, offset: int) -> ConsumedEvent:
    event = new_event(data, source="test")
    decoded = decode(event.model_dump_json().encode())
    assert decoded is not None
    record = ConsumedRecord("cop.recognition", 0, offset, None, b"", {})
    return ConsumedEvent(decoded, record)


def badge(member: str) -> BadgeAwarded:
    return BadgeAwarded(member_id=member, badge="first-talk", community_id="c1", reason="talk")


def kudos(to: str) -> KudosGiven:
    return KudosGiven(
        kudos_id=f"k-{to}", from_id="ada", to_ids=[to], community_id="c1",
        message="thanks", value_tag="mentoring",
    )  # fmt: skip


class Work:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.prepared_ids: list[str] = []
        self.commits = 0

    async def commit(self) -> None:
        self.commits += 1


async def test_each_event_reaches_its_handler_in_order_and_the_batch_commits_once() -> None:
    works: list[Work] = []

    def new_work() -> Work:
        works.append(Work())
        return works[-1]

    async def on_badge(fact: Fact[BadgeAwarded], uow: Work) -> None:
        uow.seen.append(f"badge:{fact.data.member_id}")

    async def on_kudos(fact: Fact[KudosGiven], uow: Work) -> None:
        uow.seen.append(f"kudos:{fact.data.to_ids[0]}")

    async def prepare(facts: Sequence[Fact[Any]], uow: Work) -> None:
        assert uow.seen == []  # before the first handler
        uow.prepared_ids += [fact.event_id for fact in facts]

    registry = (
        EventHandlers("test", new_work, prepare=prepare)
        .on(BadgeAwarded, on_badge)
        .on(KudosGiven, on_kudos)
    )
    unhandled = consumed(
        MemberProfileUpdated(member_id="bob", name="Bob", email="bob@example.com"), 2
    )
    batch = [consumed(badge("ann"), 0), consumed(kudos("bob"), 1), unhandled]
    await registry(batch)

    (work,) = works
    assert work.seen == ["badge:ann", "kudos:bob"]
    assert work.prepared_ids == [batch[0].event.id, batch[1].event.id]  # not the unhandled one
    assert work.commits == 1
    assert registry.event_types == ["cop.badge.awarded.v1", "cop.kudos.given.v1"]


def test_a_type_gets_one_handler_and_only_catalog_models_are_accepted() -> None:
    async def handler(fact: Fact[Any], uow: Work) -> None:
        pass

    registry = EventHandlers("test", Work).on(BadgeAwarded, handler)
    with pytest.raises(ValueError, match="already has a handler"):
        registry.on(BadgeAwarded, handler)

    class NotAnEvent(BadgeAwarded):
        pass

    with pytest.raises(TypeError, match="not a catalog event"):
        registry.on(NotAnEvent, handler)
