"""Waiting, with a deadline, until a service's own projection shows an effect."""

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(
    shows: Callable[[], Awaitable[object]], *, timeout_s: float = 10.0, interval_s: float = 0.05
) -> bool:
    """Poll `shows` until it returns something truthy (True) or the deadline passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await shows():
            return True
        await asyncio.sleep(interval_s)
    return False
