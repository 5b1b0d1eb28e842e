"""The knowledge service's composition root."""

from fastapi import FastAPI

from services.knowledge.settings import KnowledgeSettings
from shared.runtime import build_runtime, create_app


def bootstrap(settings: KnowledgeSettings | None = None) -> FastAPI:
    settings = settings or KnowledgeSettings()
    runtime = build_runtime(settings)
    return create_app(
        runtime,
        title="CoP Knowledge",
        description="Patterns, decision logs, templates, playbooks and other artifacts.",
    )
