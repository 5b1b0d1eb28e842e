"""The OpenAPI document of one of the events service's routers, built on placeholders: documenting
a route calls none of its commands, queries or stores."""

from collections.abc import Callable
from typing import Any, cast

from fastapi import APIRouter, FastAPI

from shared.auth import member_auth
from shared.idempotency import IdempotencyStore, idempotency


def openapi_of(router: Callable[..., APIRouter]) -> dict[str, Any]:
    """`router` takes (commands, queries, auth, idempotency), as every events router does."""
    app = FastAPI()
    auth = member_auth("x" * 32)
    store = cast(IdempotencyStore, object())
    app.include_router(router(object(), object(), auth, idempotency(store, auth)))
    return app.openapi()
