"""The events service's composition root."""

from fastapi import FastAPI

from services.events.adapters.members import MemberDirectory
from services.events.entrypoints.http import router
from services.events.handlers import EventsHandlers
from services.events.settings import EventsSettings
from shared.events.topics import Topic
from shared.runtime import build_runtime, create_app


def bootstrap(settings: EventsSettings | None = None) -> FastAPI:
    settings = settings or EventsSettings()
    runtime = build_runtime(settings)
    handlers = EventsHandlers(runtime.bus, MemberDirectory(runtime.db))
    runtime.subscribe(handlers.apply, str(Topic.COMMUNITIES), str(Topic.SESSIONS))
    return create_app(
        runtime,
        title="CoP Events",
        description="Communities, members, sessions, attendance, feedback and the inbound gateway.",
        routers=[router(handlers)],
    )
