"""The notifier's composition root."""

from fastapi import FastAPI

from services.notifier import rebuild
from services.notifier.adapters.chat import WebhookPoster
from services.notifier.adapters.email import SmtpSender
from services.notifier.adapters.store import NotifierStore
from services.notifier.entrypoints.http import router
from services.notifier.event_handlers import event_handlers
from services.notifier.handlers import NotifierHandlers
from services.notifier.settings import NotifierSettings
from shared.auth import member_auth
from shared.runtime import build_runtime, create_app


def bootstrap(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    runtime = build_runtime(settings)
    store = NotifierStore(runtime.db)
    chat = WebhookPoster(
        allowed_hosts=settings.chat_allowed_hosts,
        secret=settings.chat_webhook_secret,
        timeout_s=settings.chat_timeout_s,
        tracer=runtime.tracer,
    )
    handlers = NotifierHandlers(
        bus=runtime.bus,
        store=store,
        email=SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
            tracer=runtime.tracer,
        ),
        chat=chat,
        chat_url=settings.chat_webhook_url,
        chat_kind=settings.chat_webhook_kind,
        platform_url=settings.platform_url,
        tracer=runtime.tracer,
    )
    # Small batches: each event may wait on SMTP servers and webhooks, and a batch must finish
    # well within the consumer's poll interval.
    runtime.subscribe(event_handlers(handlers), *rebuild.TOPICS, max_records=20)
    return create_app(
        runtime,
        title="CoP Notifier",
        description="E-mail and chat notifications for community members, and the delivery log.",
        routers=[
            router(
                handlers,
                member_auth(
                    settings.auth_token_secret, max_lifetime_s=settings.auth_token_max_lifetime_s
                ),
            )
        ],
        on_shutdown=[chat.close],
    )
