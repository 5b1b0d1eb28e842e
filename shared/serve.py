"""Serving a service's FastAPI app with uvicorn on its configured host and port."""

import uvicorn
from fastapi import FastAPI

from shared.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # the service configured logging itself (shared.logs)
        access_log=False,
    )
