import asyncio

import pytest

from shared.together import await_all


async def test_results_come_back_in_order() -> None:
    async def value(v: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return v

    assert await await_all([value(1, 0.02), value(2, 0.0), value(3, 0.01)]) == [1, 2, 3]


async def test_a_failure_is_raised_only_after_the_others_finished_uncancelled() -> None:
    finished: list[str] = []
    slow_may_finish = asyncio.Event()

    async def fails() -> None:
        slow_may_finish.set()
        raise ValueError("first")

    async def slow() -> None:
        await slow_may_finish.wait()
        await asyncio.sleep(0)
        finished.append("slow")

    with pytest.raises(ValueError, match="first"):
        await await_all([fails(), slow()])
    assert finished == ["slow"]
