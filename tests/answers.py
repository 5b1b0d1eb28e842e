"""What an accepted HTTP request answers to a test: the JSON object of a success."""

from typing import Any

import httpx


def answer_of(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The JSON object `response` answers, once its status is checked to be one of `statuses`
    (200 when none is named)."""
    assert response.status_code in (statuses or (200,)), response.text
    answer: dict[str, Any] = response.json()
    return answer
