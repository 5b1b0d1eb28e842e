"""The `cop.inbound` topic: other systems' events produced straight to Kafka.

They are judged exactly like `POST /ingest` ones, the source taken from the event itself. A
record the gateway rejects goes to `cop.inbound.rejected` with the reason; the shared consumer's
policy handles the rest (outages rewind, other failures are retried, then dead-lettered).
"""

from collections.abc import Awaitable, Callable

from services.events.commands.ingest import Gateway
from shared.consumer import ConsumedRecord

InboundHandler = Callable[[list[ConsumedRecord]], Awaitable[None]]


def inbound_handler(gateway: Gateway) -> InboundHandler:
    async def judge(records: list[ConsumedRecord]) -> None:
        await gateway.accept_records(records)

    return judge
