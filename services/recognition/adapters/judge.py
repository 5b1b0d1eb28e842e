"""The kudos judge's memory: per giver and allowance period, the kudos in the order judged.

`kudos_allowances` (`<giver>|<period>`) holds `entries`: for each kudos, the recipients that only
the allowance could still refuse. Entries are appended with `$push`, which one document applies
atomically, so judges on several partitions (a giver's kudos in two communities) agree on one
order; the units then follow from that order (`allot`). A kudos judged again (a redelivery, a
restart, a replay) finds its entry and gets the same verdicts. The collection is the judge's
record, not a projection: a rebuild keeps it, like the judgements it published.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.recognition.domain.kudos import AllowanceEntry, KudosPolicy, allot, verdicts
from shared.events.catalog import KudosGiven, KudosJudged
from shared.messagebus import Fact
from shared.mongo import MAX_BULK_STATEMENTS


@dataclass(frozen=True)
class _Pending:
    fact: Fact[KudosGiven]
    doc_id: str
    period: str


class KudosAllowances:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], policy: KudosPolicy) -> None:
        self._allowances = db["kudos_allowances"]
        self._policy = policy

    async def used(self, giver_id: str, period: str) -> int:
        doc = await self._allowances.find_one({"_id": f"{giver_id}|{period}"})
        return sum(len(c) for c in allot(_entries(doc), self._policy.allowance).values())

    async def judge(self, facts: Sequence[Fact[KudosGiven]]) -> list[KudosJudged]:
        """Judge a batch of kudos in order; a kudos judged before keeps its verdicts."""
        pending = [
            _Pending(f, f"{f.data.from_id}|{period}", period)
            for f in facts
            for period in [self._policy.period_of(f.time)]
        ]
        screened = {
            p.fact.data.kudos_id: self._policy.screen(
                p.fact.data.from_id, p.fact.data.to_ids, p.fact.data.value_tag
            )
            for p in pending
        }
        ids = sorted({p.doc_id for p in pending})
        known = await self._load(ids)
        pushes = []
        for p in pending:
            kudos_id = p.fact.data.kudos_id
            eligible = [m for m, reason in screened[kudos_id] if reason is None]
            entries = known.get(p.doc_id, [])
            if eligible and all(e.kudos_id != kudos_id for e in entries):
                entry = {"k": kudos_id, "e": eligible}
                pushes.append(
                    UpdateOne({"_id": p.doc_id}, {"$push": {"entries": entry}}, upsert=True)
                )
                entries.append(AllowanceEntry(kudos_id, tuple(eligible)))
                known[p.doc_id] = entries
        for start in range(0, len(pushes), MAX_BULK_STATEMENTS):
            await self._allowances.bulk_write(
                pushes[start : start + MAX_BULK_STATEMENTS], ordered=True
            )
        allotted = {
            doc_id: allot(entries, self._policy.allowance)
            for doc_id, entries in (await self._load(ids)).items()
        }
        judged = []
        for p in pending:
            kudos = p.fact.data
            counted = allotted.get(p.doc_id, {}).get(kudos.kudos_id, ())
            judged.append(
                KudosJudged(
                    kudos_id=kudos.kudos_id,
                    community_id=kudos.community_id,
                    from_id=kudos.from_id,
                    message=kudos.message,
                    value_tag=kudos.value_tag,
                    period=p.period,
                    recipients=verdicts(screened[kudos.kudos_id], counted),
                )
            )
        return judged

    async def _load(self, ids: list[str]) -> dict[str, list[AllowanceEntry]]:
        docs = await self._allowances.find({"_id": {"$in": ids}}).to_list(None)
        return {d["_id"]: _entries(d) for d in docs}


def _entries(doc: dict[str, Any] | None) -> list[AllowanceEntry]:
    return [AllowanceEntry(e["k"], tuple(e["e"])) for e in (doc or {}).get("entries", [])]
