"""Recognition's composition root: the one place its dependencies are wired."""

import asyncio

from fastapi import FastAPI

from services.recognition import rebuild
from services.recognition.adapters.decisions import Decisions
from services.recognition.adapters.health_checks import Ballots, HealthCheckRounds
from services.recognition.adapters.judge import KudosAllowances
from services.recognition.adapters.leaderboard import Leaderboards
from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.adapters.reservations import Reservations
from services.recognition.commands.health_checks import HealthCheckCommands
from services.recognition.commands.kudos import RecognitionCommands
from services.recognition.domain.kudos import KudosPolicy
from services.recognition.entrypoints.health_checks import health_check_router
from services.recognition.entrypoints.http import router
from services.recognition.event_handlers import (
    HealthCheckAlerts,
    Settlement,
    judge_handlers,
    projection_handlers,
)
from services.recognition.jobs import (
    HealthEvaluation,
    close_rounds_periodically,
    evaluate_periodically,
)
from services.recognition.queries.community import RecognitionQueries
from services.recognition.queries.health_checks import HealthCheckQueries
from services.recognition.settings import RecognitionSettings
from shared.auth import auth_from_settings
from shared.idempotency import IdempotencyStore, idempotency
from shared.kafka import kafka_security
from shared.lag import GroupLag
from shared.runtime import build_runtime, create_app
from shared.together import cancel_all


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
    decisions = Decisions(runtime.bus, projection)
    commands = RecognitionCommands(
        runtime.bus, policy, allowances, Reservations(runtime.redis, settings.mongodb_database)
    )
    evaluation = HealthEvaluation(
        projection,
        decisions,
        settle_s=settings.health_settle_s,
        records_behind=lag.records_behind,
    )
    projection.after_commit.append(Settlement(projection, boards, decisions).settle)
    ballots, rounds = Ballots(runtime.db), HealthCheckRounds(runtime.db)
    health_checks = HealthCheckCommands(runtime.bus, ballots, rounds)
    projection.after_commit.append(HealthCheckAlerts(rounds, decisions).settle)
    runtime.subscribe(projection_handlers(projection), *rebuild.TOPICS)
    runtime.subscribe(
        judge_handlers(allowances, runtime.bus, runtime.tracer),
        *rebuild.JUDGE_TOPICS,
        group_suffix="judge",
    )
    evaluator: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    async def start_evaluating() -> None:
        await lag.start()
        interval_s = settings.health_evaluation_interval_s
        evaluator.append(
            asyncio.create_task(evaluate_periodically(evaluation, interval_s, stopping))
        )
        await ballots.ensure_indexes()
        closing_s = settings.health_check_close_interval_s
        evaluator.append(
            asyncio.create_task(close_rounds_periodically(health_checks, closing_s, stopping))
        )

    async def stop_evaluating() -> None:
        stopping.set()
        await cancel_all(evaluator)
        await lag.stop()

    auth = auth_from_settings(settings)
    once = idempotency(
        IdempotencyStore(runtime.redis, settings.mongodb_database, settings.idempotency_ttl_s),
        auth,
    )
    return create_app(
        runtime,
        title="CoP Recognition",
        description="Kudos, contribution ledger, badges, leaderboards and community health.",
        routers=[
            router(
                commands,
                RecognitionQueries(projection, boards),
                auth,
                once,
            ),
            health_check_router(
                health_checks,
                HealthCheckQueries(rounds, ballots, projection.alerts),
                auth,
                once,
            ),
        ],
        on_startup=[start_evaluating],
        on_shutdown=[stop_evaluating],
    )
