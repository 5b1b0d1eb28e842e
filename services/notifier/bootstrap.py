"""The notifier's composition root: the one place its dependencies are wired."""

import asyncio
import logging
from urllib.parse import urlsplit

from fastapi import FastAPI
from limits.aio.strategies import MovingWindowRateLimiter

from services.notifier import rebuild
from services.notifier.adapters.chat import WebhookPoster
from services.notifier.adapters.deliveries import DeliveryLog
from services.notifier.adapters.directory import Directory
from services.notifier.adapters.email import SmtpSender
from services.notifier.adapters.rate_limits import rate_limit_storage
from services.notifier.adapters.replay_marks import ReplayMarks
from services.notifier.adapters.webhook_targets import TargetPolicy
from services.notifier.entrypoints.http import router
from services.notifier.event_handlers import Planner, event_handlers
from services.notifier.jobs import Dispatcher, Limits, Links, Mailing, Senders, Stores
from services.notifier.queries import NotifierQueries
from services.notifier.settings import NotifierSettings
from shared.auth import auth_from_settings
from shared.runtime import build_runtime, create_app
from shared.together import cancel_all

log = logging.getLogger(__name__)
DEFAULT_CHANNEL = "default"


def bootstrap(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    runtime = build_runtime(settings)
    directory = Directory(runtime.db)
    deliveries = DeliveryLog(
        runtime.db, runtime.redis, settings.mongodb_database, settings.delivery_lease_s
    )
    webhook_targets = TargetPolicy.from_settings(settings)
    chat_webhook_urls = mapped_channel_webhooks(settings, webhook_targets)
    chat = WebhookPoster(
        targets=webhook_targets,
        secret=settings.chat_webhook_secret,
        timeout_s=settings.chat_timeout_s,
        tracer=runtime.tracer,
    )
    default_chat = (
        {
            "id": DEFAULT_CHANNEL,
            "kind": settings.chat_webhook_kind,
            "url": settings.chat_webhook_url,
            "secret": settings.chat_webhook_secret,
        }
        if settings.chat_webhook_url
        else None
    )
    email = SmtpSender.from_settings(settings, runtime.tracer)
    dispatcher = Dispatcher(
        stores=Stores(deliveries, directory),
        senders=Senders(email, chat, default_chat),
        mailing=Mailing(
            Links.from_settings(settings), settings.mail_from, settings.auth_token_secret
        ),
        limits=Limits.from_settings(
            settings, MovingWindowRateLimiter(rate_limit_storage(settings))
        ),
        bus=runtime.bus,
        tracer=runtime.tracer,
    )
    planner = Planner(
        directory=directory,
        log_=deliveries,
        replay_marks=ReplayMarks(runtime.db),
        reminder_offsets_h=settings.reminder_offsets_h,
        default_chat=default_chat,
        tracer=runtime.tracer,
        planned=dispatcher.wake,
        chat_webhook_urls=chat_webhook_urls,
    )
    runtime.subscribe(event_handlers(planner), *rebuild.TOPICS, max_records=100)
    loop: list[asyncio.Task[None]] = []

    async def start_dispatching() -> None:
        loop.append(asyncio.create_task(dispatcher.run_forever(settings.dispatch_interval_s)))

    async def stop_dispatching() -> None:
        dispatcher.stop()
        await cancel_all(loop)
        await chat.close()
        await email.close()

    app = create_app(
        runtime,
        title="CoP Notifier",
        description="E-mail and chat notifications by each member's preferences: invitations, "
        "reminders, digests, recognition, health alerts; and the delivery log.",
        routers=[
            router(
                directory=directory,
                deliveries=deliveries,
                queries=NotifierQueries(directory, deliveries),
                auth=auth_from_settings(settings),
                webhook_targets=webhook_targets,
                signing_secret=settings.auth_token_secret,
            )
        ],
        on_startup=[start_dispatching],
        on_shutdown=[stop_dispatching],
    )
    app.state.dispatcher = dispatcher  # an operator's (or a test's) hand on the schedule
    return app


def mapped_channel_webhooks(settings: NotifierSettings, targets: TargetPolicy) -> dict[str, str]:
    """`NOTIFIER_CHAT_WEBHOOK_URLS`, refused at start when a host is not on the allowlist (the
    addresses are checked on every connection, as for any channel)."""
    urls: dict[str, str] = {
        platform: str(url) for platform, url in settings.notifier_chat_webhook_urls.items()
    }
    for platform, url in urls.items():
        if not targets.url_allowed(url):
            host = urlsplit(url).hostname
            raise ValueError(
                f"NOTIFIER_CHAT_WEBHOOK_URLS[{platform}]: host {host} is not on CHAT_ALLOWED_HOSTS"
            )
    return urls
