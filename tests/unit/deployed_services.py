"""The services this repository deploys, as the code names them: what the tests of the deployment
files (docker-compose.yml, deploy/k8s) hold those files to."""

import importlib
from pathlib import Path

from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]

# Each service and its settings class in services/<service>/settings.py.
SETTINGS_CLASSES: dict[str, str] = {
    "events": "EventsSettings",
    "knowledge": "KnowledgeSettings",
    "recognition": "RecognitionSettings",
    "notifier": "NotifierSettings",
    "impact": "ImpactSettings",
    "web": "WebSettings",  # the pages: no Kafka, MongoDB or Redis of its own
}


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{name}.settings")
    settings: type[ServiceSettings] = getattr(module, SETTINGS_CLASSES[name])
    return settings
