"""How far the notifier's topics went when a replay began: events up to there rebuild what the
notifier knows and notify nobody (they were notified, or deliberately not, the first time)."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

MARKS = "marks"


class ReplayMarks:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._marks = db["replay_marks"]
        self._known: dict[str, int] | None = None

    async def replayed(self, topic: str, partition: int, offset: int) -> bool:
        if self._known is None:  # written only while the service is stopped: read once
            self._known = await self._ends()
        return offset < self._known.get(f"{topic}|{partition}", 0)

    async def _ends(self) -> dict[str, int]:
        doc = await self._marks.find_one({"_id": MARKS}) or {}
        return {key: int(end) for key, end in doc.get("ends", [])}

    async def record(self, ends: dict[str, int]) -> None:
        """Before a replay, with the service stopped: the end offset of each partition
        (`<topic>|<partition>`); an earlier replay's marks are kept where they went further."""
        merged = await self._ends()
        for key, end in ends.items():
            merged[key] = max(merged.get(key, 0), end)
        await self._marks.update_one(
            {"_id": MARKS},
            {"$set": {"ends": sorted([k, v] for k, v in merged.items())}},
            upsert=True,
        )
