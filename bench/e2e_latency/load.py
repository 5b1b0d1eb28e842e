"""The load: `POST /kudos` sent open loop over kept-alive connections, by rotating givers that each
stay within the allowance."""

import asyncio
import math
import uuid
from dataclasses import dataclass

import orjson

from bench.sink_server import now
from services.recognition.settings import RecognitionSettings
from shared.auth import issue_token

COMMUNITIES = 8
RECIPIENTS = 200
GIVERS = 1_000
VALUE_TAG = "mentoring"


class RawHttp:
    """HTTP/1.1 over a pool of kept-alive connections, with far less client CPU than a full
    client: on two shared cores the load generator must not be what is measured."""

    def __init__(self, host: str, port: int, connections: int = 128) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: bytes, headers: str) -> int:
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n{headers}"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        async with self._slots:
            for attempt in range(2):
                # A kept connection may have been closed by the server meanwhile (its keep-alive
                # timeout); the second attempt always opens a fresh one.
                reused = bool(self._idle) and attempt == 0
                if reused:
                    reader, writer = self._idle.pop()
                else:
                    reader, writer = await asyncio.open_connection(self._host, self._port)
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    if reused and attempt == 0:
                        continue  # the server closed an idle connection: not sent, send again
                    raise
                status, length, close = _response_head(head)
                if length:
                    await reader.readexactly(length)
                if close:
                    writer.close()
                else:
                    self._idle.append((reader, writer))
                return status
        raise ConnectionError("unreachable")

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _response_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    return status, length, close


@dataclass
class Sent:
    seq: int
    due: float
    sent: float = math.nan
    answered: float = math.nan
    status: int = 0


class KudosLoad:
    """Who gives whom kudos, and sending them."""

    def __init__(self, settings: RecognitionSettings, recognition_port: int) -> None:
        self.run = uuid.uuid4().hex[:6]
        self._secret = settings.auth_token_secret
        self._allowance = settings.kudos_allowance
        self._tokens: dict[str, str] = {}
        self._http = RawHttp("127.0.0.1", recognition_port)
        self.recipients = [f"br{i}-{self.run}" for i in range(RECIPIENTS)]
        self.next_seq = 0
        self.posted_index = 0

    def giver(self, seq: int) -> str:
        # Every giver gives exactly the allowance over GIVERS * allowance kudos, spread out.
        return f"bg{seq % GIVERS}-{self.run}-{seq // (GIVERS * self._allowance)}"

    def _token_header(self, giver: str) -> str:
        token = self._tokens.get(giver)
        if token is None:
            token = self._tokens[giver] = issue_token(self._secret, giver, ttl_s=3600)
        return f"authorization: Bearer {token}\r\n"

    async def send(self, item: Sent) -> None:
        seq = item.seq
        body = orjson.dumps(
            {
                "to_ids": [self.recipients[(seq * 7) % RECIPIENTS]],
                "community_id": f"c{seq % COMMUNITIES}",
                "message": f"bench kudos {seq}",
                "value_tag": VALUE_TAG,
            }
        )
        headers = self._token_header(self.giver(seq))
        item.sent = now()
        try:
            item.status = await self._http.post("/kudos", body, headers)
        except (OSError, asyncio.IncompleteReadError):
            item.status = -1
        item.answered = now()

    async def close(self) -> None:
        await self._http.close()
