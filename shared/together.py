"""Awaiting several operations at once without cancelling any of them."""

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def await_all(operations: Iterable[Awaitable[T]]) -> list[T]:
    """Run the operations together and wait for every one to finish; then raise the first
    failure, if any. Unlike a task group, a failure does not cancel the others: a client
    cancelled in the middle of an operation can be left broken (PyMongo's async topology lock),
    and a write or publish that has started is better finished and accounted for."""
    results = await asyncio.gather(*operations, return_exceptions=True)
    done: list[T] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        done.append(result)
    return done


async def cancel_all(tasks: Iterable["asyncio.Task[object]"]) -> None:
    """Cancel background tasks and wait until each has stopped."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
