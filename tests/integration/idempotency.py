"""What a command that takes `Idempotency-Key` answers when it is sent again with the same key."""

from collections.abc import Sequence
from typing import Any

import httpx


async def documented_keys(client: httpx.AsyncClient, *paths: str) -> list[dict[str, Any]]:
    """The `Idempotency-Key` parameter of `POST` on each path, as the OpenAPI document has it."""
    spec = (await client.get("/openapi.json")).json()
    found = []
    for path in paths:
        parameters = spec["paths"][path]["post"]["parameters"]
        named = [p for p in parameters if p["name"] == "Idempotency-Key"]
        assert named, f"POST {path} does not document Idempotency-Key"
        found.append(named[0])
    return found


def assert_replayed(first: httpx.Response, repeat: httpx.Response) -> None:
    """The repeat got the first answer (an accepted command), marked as replayed."""
    assert first.status_code == 202, first.text
    assert (repeat.status_code, repeat.json()) == (202, first.json())
    assert repeat.headers["idempotent-replayed"] == "true"


def assert_answered_once(answers: Sequence[httpx.Response]) -> None:
    """Repeats sent at once: one is answered fresh; each other one gets that answer again, or a
    409 asking to retry in a second while the first is still in progress."""
    fresh = [a for a in answers if a.status_code == 202 and "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1, [a.status_code for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "idempotency_in_progress"
            assert answer.headers["retry-after"] == "1"
        else:
            assert (answer.status_code, answer.json()) == (202, fresh[0].json())
