"""Waiting for an effect with a deadline instead of sleeping a fixed time."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """What `eventually` raises when the deadline passed."""


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float = 20.0,
    interval_s: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise TimedOut(f"timed out after {timeout_s}s waiting for {what}; last value: {last!r}")
