"""The web app for a test module whose `services` fixture answers the calls the pages make to
the services (a module that builds its own app overrides `client`)."""

from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from services.web.bootstrap import bootstrap
from services.web.settings import WebSettings


@pytest.fixture
def client(services: Callable[[httpx.Request], httpx.Response]) -> Iterator[TestClient]:
    app = bootstrap(WebSettings(), transport=httpx.MockTransport(services))
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client
