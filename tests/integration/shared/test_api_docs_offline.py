"""Every service's `/docs` (Swagger UI) and `/redoc` load their scripts and styles from the
service itself, so they render on a machine without internet."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.events.bootstrap import bootstrap as events_app
from services.events.settings import EventsSettings
from services.impact.bootstrap import bootstrap as impact_app
from services.impact.settings import ImpactSettings
from services.knowledge.bootstrap import bootstrap as knowledge_app
from services.knowledge.settings import KnowledgeSettings
from services.notifier.bootstrap import bootstrap as notifier_app
from services.notifier.settings import NotifierSettings
from services.recognition.bootstrap import bootstrap as recognition_app
from services.recognition.settings import RecognitionSettings
from shared.settings import ServiceSettings
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for

pytestmark = pytest.mark.integration

SERVICES: dict[str, tuple[type[ServiceSettings], Callable[[Any], FastAPI]]] = {
    "events": (EventsSettings, events_app),
    "knowledge": (KnowledgeSettings, knowledge_app),
    "recognition": (RecognitionSettings, recognition_app),
    "notifier": (NotifierSettings, notifier_app),
    "impact": (ImpactSettings, impact_app),
}
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


@pytest.mark.parametrize("service", list(SERVICES))
async def test_docs_pages_load_every_asset_from_the_service_itself(
    infra: Infrastructure, unique: str, service: str
) -> None:
    settings_cls, bootstrap = SERVICES[service]
    settings = settings_for(settings_cls, infra, f"docs{unique}")
    try:
        async with serving(bootstrap(settings), service) as client:
            for page in ("/docs", "/redoc"):
                response = await client.get(page)
                assert response.status_code == 200, response.text
                html = response.text
                assert "://" not in html, f"{page} names another host: {html}"
                assets = _references(html)
                assert any(a.endswith(".js") for a in assets), html
                for asset in assets:
                    assert asset.startswith("/"), asset
                    assert not asset.startswith("//"), asset
                    answer = await client.get(asset)
                    assert answer.status_code == 200, f"{asset}: {answer.status_code}"
                    suffix = asset[asset.rfind(".") :]
                    assert ASSET_TYPES[suffix] in answer.headers["content-type"], asset
                    assert len(answer.content) > 1000, asset
            spec = (await client.get("/openapi.json")).json()
            assert spec["openapi"].startswith("3.1")
            # Swagger UI renders OpenAPI 3.1 documents from version 5 on.
            bundle = (await client.get("/docs/static/swagger-ui-bundle.js")).text
            assert "OpenAPI31" in bundle
    finally:
        await drop_database(infra, settings.mongodb_database)
