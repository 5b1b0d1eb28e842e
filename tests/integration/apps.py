"""Running a service's FastAPI app in the test process against the real infrastructure."""

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from shared.auth import issue_token
from shared.settings import ServiceSettings
from tests.answers import answer_of
from tests.infra import Infrastructure
from tests.namespaces import track

S = TypeVar("S", bound=ServiceSettings)


TEST_INDEXES = Path(tempfile.gettempdir()) / "cop-test-search-indexes"


def settings_for(
    settings_cls: type[ServiceSettings], infra: Infrastructure, namespace: str, **overrides: Any
) -> Any:
    """Settings that keep a test's topics, consumer group and database apart from others."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "mongodb_uri": infra.mongodb_uri,
        "redis_url": infra.redis_url,
        "kafka_topic_prefix": track(f"{namespace}."),
        # One partition a topic: every test's service creates the contract's topics, and the
        # broker's cost of a test is mostly its partitions (half the broker's CPU with three).
        # What several partitions change (ordering by key, replicas sharing a group) is covered
        # where it is the point: the e2e platforms and the fault suite run with several.
        "kafka_topic_partitions": 1,
        "consumer_retry_backoff_ms": 20,
        **overrides,
    }
    service = settings_cls().service_name
    values.setdefault("mongodb_database", f"{namespace}_{service}")
    # Never the live stack's group (`cop-<service>`): joining it would make running services
    # rebalance and count as their members.
    values.setdefault("kafka_consumer_group", f"{namespace}-{service}")
    if "search_index_dir" in settings_cls.model_fields:  # knowledge's index: the test's own
        values.setdefault("search_index_dir", str(TEST_INDEXES / namespace))
    return settings_cls(**values)


def bearer(member_id: str, *, admin: bool = False, secret: str | None = None) -> dict[str, str]:
    """An Authorization header for a member, signed like `copctl token` does by default."""
    secret = secret or ServiceSettings().auth_token_secret
    scopes = ("admin",) if admin else ()
    return {"Authorization": f"Bearer {issue_token(secret, member_id, scopes=scopes)}"}


async def act_as(
    client: httpx.AsyncClient, member: str, method: str, url: str, body: Any = None
) -> dict[str, Any]:
    """A command sent in `member`'s name, answered once the service has applied its event."""
    response = await client.request(
        method, url, json=body, params={"wait": "true"}, headers=bearer(member)
    )
    return answer_of(response, 200, 201, 202)


@contextlib.asynccontextmanager
async def serving(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (broker, consumers) and give an HTTP client for it.

    The client acts as an operator (admin scope) unless a request sets its own Authorization.
    """
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{name}", headers=bearer("ops", admin=True)
        ) as client:
            yield client


@contextlib.asynccontextmanager
async def serving_anew(
    infra: Infrastructure, settings: S, bootstrap: Callable[[S], FastAPI]
) -> AsyncIterator[httpx.AsyncClient]:
    """`serving` the service that `bootstrap` builds from `settings`; its database is dropped
    once the block is done."""
    async with serving(bootstrap(settings), settings.service_name) as client:
        yield client
    await drop_database(infra, settings.mongodb_database)


async def drop_database(infra: Infrastructure, name: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def listening(app: FastAPI) -> AsyncIterator[str]:
    """Serve the app over real HTTP on a free local port, in this event loop; yield its URL.

    For what only a real server shows: connections kept alive or closed, headers on the wire.
    """
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.05)
        (socket, *_) = server.servers[0].sockets
        yield f"http://127.0.0.1:{socket.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
