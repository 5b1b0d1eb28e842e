"""`/readyz` turns red when a dependency stops answering, not only when it refuses."""

import asyncio

import httpx
from fastapi import FastAPI

from shared.http import ReadinessCheck, health_router, install_problem_handlers
from tests.problems import problem_of


async def answers() -> bool:
    return True


async def hangs() -> bool:
    await asyncio.Event().wait()  # a database that accepted the command and never answers
    return True


def app_with(**checks: ReadinessCheck) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(health_router(checks, timeout_s=0.2))
    return app


async def get_readyz(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get("/readyz")


async def test_a_dependency_that_never_answers_makes_readyz_503_within_its_timeout() -> None:
    response = await asyncio.wait_for(get_readyz(app_with(kafka=answers, mongodb=hangs)), 5)
    checks = problem_of(response, 503)["checks"]
    assert checks["kafka"] == "ok"
    assert checks["mongodb"].startswith("error: TimeoutError")


async def test_readyz_is_green_when_every_dependency_answers() -> None:
    response = await get_readyz(app_with(kafka=answers, mongodb=answers))
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"kafka": "ok", "mongodb": "ok"}}
