"""Recognition's composition root: the one place its dependencies are wired."""

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from services.recognition import rebuild
from services.recognition.adapters.judge import KudosAllowances
from services.recognition.adapters.leaderboard import Leaderboards
from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.adapters.reservations import Reservations
from services.recognition.domain.kudos import KudosPolicy
from services.recognition.entrypoints.http import router
from services.recognition.event_handlers import judge_handlers, projection_handlers
from services.recognition.handlers import RecognitionHandlers
from services.recognition.queries import RecognitionQueries
from services.recognition.settings import RecognitionSettings
from shared.auth import auth_from_settings
from shared.kafka import kafka_security
from shared.lag import GroupLag
from shared.runtime import build_runtime, create_app

log = logging.getLogger(__name__)


def bootstrap(settings: RecognitionSettings | None = None) -> FastAPI:
    settings = settings or RecognitionSettings()
    runtime = build_runtime(settings)
    policy = KudosPolicy(
        settings.kudos_allowance,
        settings.kudos_allowance_period,
        frozenset(settings.kudos_value_tags),
    )
    projection = RecognitionProjection(runtime.db)
    boards = Leaderboards(runtime.redis, settings.mongodb_database)
    allowances = KudosAllowances(runtime.db, policy)
    lag = GroupLag(
        settings.kafka_bootstrap_servers,
        runtime.consumer_group,
        [runtime.bus.topic(t) for t in rebuild.TOPICS],
        security=kafka_security(settings),
    )
    handlers = RecognitionHandlers(
        runtime.bus,
        policy,
        allowances,
        projection,
        boards,
        Reservations(runtime.redis, settings.mongodb_database),
        settle_s=settings.health_settle_s,
        records_behind=lag.records_behind,
    )
    projection.after_commit.append(handlers.settle)
    runtime.subscribe(projection_handlers(projection), *rebuild.TOPICS)
    runtime.subscribe(
        judge_handlers(allowances, runtime.bus, runtime.tracer),
        *rebuild.JUDGE_TOPICS,
        group_suffix="judge",
    )
    evaluator: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    async def evaluate_periodically() -> None:
        # Ends on the stop flag as well as on cancellation: a client library that swallows a
        # cancellation mid-round must not keep the service from stopping.
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.health_evaluation_interval_s):
                    await stopping.wait()
            if stopping.is_set():
                return
            try:
                await handlers.evaluate()
            except Exception:  # an outage: the next round tries again
                log.exception("health evaluation failed; retrying next round")

    async def start_evaluating() -> None:
        await lag.start()
        evaluator.append(asyncio.create_task(evaluate_periodically()))

    async def stop_evaluating() -> None:
        stopping.set()
        for task in evaluator:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await lag.stop()

    return create_app(
        runtime,
        title="CoP Recognition",
        description="Kudos, contribution ledger, badges, leaderboards and community health.",
        routers=[
            router(
                handlers,
                RecognitionQueries(projection, boards),
                auth_from_settings(settings),
            )
        ],
        on_startup=[start_evaluating],
        on_shutdown=[stop_evaluating],
    )
