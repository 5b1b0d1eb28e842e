"""Reading and re-driving a service's dead-letter topic (`cop.dlq.<service>`)."""

import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.security import BaseSecurity
from pydantic_core import from_json, to_json

from copctl.topics import read_from_start
from shared.events.topics import dlq_topic
from shared.kafka import kafka_client_options

_DLQ_HEADERS = {
    "cop_error",
    "cop_original_topic",
    "cop_original_partition",
    "cop_original_offset",
    "cop_service",
    "cop_failed_at",
}


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    partition: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def summary(self) -> dict[str, Any]:
        """One line's worth, whatever the letter holds (JSON nested thousands of levels deep,
        a megabyte, bytes that are not JSON, no value): its event's type and id from the JSON
        object's top level or else the `ce_type`/`ce_id` headers, each text cut short."""
        body = _top_level(self.value)
        return {
            "dlq": f"{self.partition}@{self.offset}",
            "original": f"{self.headers.get('cop_original_topic')}"
            f"[{self.headers.get('cop_original_partition')}]"
            f"@{self.headers.get('cop_original_offset')}",
            "type": _shown(body.get("type", self.headers.get("ce_type"))),
            "id": _shown(body.get("id", self.headers.get("ce_id"))),
            "size": len(self.value or b""),
            "failed_at": _shown(self.headers.get("cop_failed_at")),
            "error": _shown(self.headers.get("cop_error"), SHOWN_ERROR_CHARS),
        }


SHOWN_CHARS = 200
"""How much of a letter's type, id or time `dlq list` shows."""
SHOWN_ERROR_CHARS = 2000


def _top_level(value: bytes | None) -> dict[str, Any]:
    """The letter as a JSON object, or {} when it is none. pydantic-core's parser stops at 200
    levels with a ValueError (the standard library's recurses until RecursionError)."""
    if not value:
        return {}
    try:
        body = from_json(value)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _shown(value: Any, limit: int = SHOWN_CHARS) -> str | None:
    """A text as is, anything else as its JSON; cut at `limit` characters (marked `…`)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else to_json(value).decode()
    return text if len(text) <= limit else text[:limit] + "…"


async def read_dead_letters(
    bootstrap: str, service: str, prefix: str = "", *, security: BaseSecurity | None = None
) -> list[DeadLetter]:
    """Everything on the service's DLQ, read from the start without joining a consumer group."""
    records = await read_from_start(bootstrap, [f"{prefix}{dlq_topic(service)}"], security=security)
    letters = [
        DeadLetter(
            r.offset,
            r.partition,
            r.key,
            r.value,
            {k: (v or b"").decode(errors="replace") for k, v in r.headers},
        )
        for r in records
    ]
    return sorted(letters, key=lambda d: (d.partition, d.offset))


async def redrive(
    bootstrap: str, letters: list[DeadLetter], *, security: BaseSecurity | None = None
) -> int:
    """Publish dead letters back to the topic they came from, with their original headers.

    Consumers are idempotent by event id, so a letter re-driven twice changes nothing twice.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        client_id=f"copctl-redrive-{uuid.uuid4().hex[:6]}",
        **kafka_client_options(security),
    )
    await producer.start()
    try:
        for letter in letters:
            topic = letter.headers.get("cop_original_topic")
            if not topic:
                continue
            headers = [(k, v.encode()) for k, v in letter.headers.items() if k not in _DLQ_HEADERS]
            await producer.send_and_wait(topic, letter.value, key=letter.key, headers=headers)
        return len(letters)
    finally:
        await producer.stop()
