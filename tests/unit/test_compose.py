"""docker-compose.yml agrees with the code: scripts, settings fields, ports and addresses.

Docker is not needed: the file is read as YAML and compared with pyproject.toml and the
settings classes, so a renamed setting or script breaks here rather than in a container.
"""

import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.notifier.settings import NotifierSettings
from services.web.settings import WebSettings
from tests.unit.deployed_services import ROOT, SETTINGS_CLASSES, settings_class

COMPOSE_FILE = ROOT / "docker-compose.yml"

# The services on Kafka, MongoDB and Redis; the web edge has checks of its own below.
APP_SERVICES = [name for name in SETTINGS_CLASSES if name != "web"]
INFRA_IMAGES: dict[str, str] = {
    "kafka": "apache/kafka:4.1.1",
    "mongo": "mongo:8.0",
    "redis": "redis:8",
    "mailpit": "axllent/mailpit",
    "otel-collector": "otel/opentelemetry-collector-contrib",
    "jaeger": "jaegertracing/jaeger",
}
EXPECTED_SERVICES = {*INFRA_IMAGES, "chat-sink", *APP_SERVICES, "web"}


def load_compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_compose()["services"]
    return found


_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as strings, whether written as a mapping or a list, with
    `${NAME:-default}` expanded as compose does when NAME is not set."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _DEFAULTED.sub(r"\2", str(value)) for key, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host, container) pairs of the short `HOST:CONTAINER` syntax."""
    pairs = []
    for entry in service.get("ports", []):
        host, container = str(entry).rsplit(":", 1)
        pairs.append((int(host.rsplit(":", 1)[-1]), int(container.split("/")[0])))
    return pairs


def project_scripts() -> dict[str, str]:
    scripts: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "scripts"
    ]
    return scripts


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_compose_defines_every_expected_service() -> None:
    assert set(services()) == EXPECTED_SERVICES


@pytest.mark.parametrize(("name", "image"), INFRA_IMAGES.items())
def test_infrastructure_uses_the_official_image(name: str, image: str) -> None:
    actual = services()[name]["image"]
    if ":" in image:
        assert actual == image
    else:
        assert actual.split(":")[0] == image


@pytest.mark.parametrize("name", [*APP_SERVICES, "chat-sink", "web"])
def test_app_container_is_built_from_the_repo_dockerfile(name: str) -> None:
    build = services()[name]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_command_is_its_console_script(name: str) -> None:
    command = command_of(services()[name])
    assert command == [f"cop-{name}"]
    assert command[0] in project_scripts()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_published_port_is_http_port_and_settings_default(name: str) -> None:
    service = services()[name]
    port = int(environment(service)["HTTP_PORT"])
    assert port == settings_class(name).model_fields["http_port"].default
    assert published_ports(service) == [(port, port)]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_listens_on_all_interfaces_in_its_container(name: str) -> None:
    assert environment(services()[name])["HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_env_vars_are_settings_fields_or_otel(name: str) -> None:
    fields = settings_class(name).model_fields
    unknown = [
        key
        for key in environment(services()[name])
        if not key.startswith("OTEL_") and key.lower() not in fields
    ]
    assert unknown == []


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_healthcheck_asks_readyz_on_its_own_port(name: str) -> None:
    service = services()[name]
    port = environment(service)["HTTP_PORT"]
    test = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in test


def kafka_internal_listener() -> str:
    env = environment(services()["kafka"])
    listeners = dict(
        entry.split("://", 1) for entry in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    return listeners[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]


def test_kafka_internal_listener_is_advertised_as_kafka_9092() -> None:
    assert kafka_internal_listener() == "kafka:9092"


def test_kafka_does_not_auto_create_topics() -> None:
    env = environment(services()["kafka"])
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_kafka_publishes_its_external_listener_as_localhost_9092() -> None:
    kafka = services()["kafka"]
    env = environment(kafka)
    advertised = dict(e.split("://", 1) for e in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    bound = dict(e.split("://", 1) for e in env["KAFKA_LISTENERS"].split(","))
    external = next(name for name, address in advertised.items() if address == "localhost:9092")
    container_port = int(bound[external].rsplit(":", 1)[1])
    assert (9092, container_port) in published_ports(kafka)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_points_at_the_compose_infrastructure(name: str) -> None:
    env = environment(services()[name])
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == kafka_internal_listener()
    assert urlsplit(env["MONGODB_URI"]).hostname == "mongo"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).hostname == "otel-collector"


def test_notifier_sends_mail_to_mailpit_smtp() -> None:
    env = environment(services()["notifier"])
    assert env["SMTP_HOST"] == "mailpit"
    mailpit_container_ports = [c for _, c in published_ports(services()["mailpit"])]
    assert int(env["SMTP_PORT"]) in mailpit_container_ports


def test_notifier_chat_webhook_host_is_allowed_and_is_the_chat_sink() -> None:
    env = environment(services()["notifier"])
    url = urlsplit(env["CHAT_WEBHOOK_URL"])
    assert url.hostname in yaml.safe_load(env["CHAT_ALLOWED_HOSTS"])
    sink_command = command_of(services()[url.hostname or ""])
    assert sink_command[sink_command.index("--port") + 1] == str(url.port)
    assert sink_command[sink_command.index("--host") + 1] == "0.0.0.0"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_settings_parse_from_the_compose_env(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(services()[name])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class(name)()
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == int(env["HTTP_PORT"])
    assert settings.kafka_bootstrap_servers == env["KAFKA_BOOTSTRAP_SERVERS"]
    assert settings.mongodb_uri == env["MONGODB_URI"]
    assert settings.redis_url == env["REDIS_URL"]


def test_notifier_settings_parse_from_the_compose_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in environment(services()["notifier"]).items():
        monkeypatch.setenv(key, value)
    settings = NotifierSettings()
    assert settings.smtp_host == "mailpit"
    assert settings.smtp_port == 1025
    assert settings.chat_webhook_url == "http://chat-sink:8090/hooks/cop"
    assert settings.chat_allowed_hosts == ["chat-sink"]
    # the sink is on the compose network, a private range of Docker's default address pools
    assert settings.chat_allowed_networks == ["172.16.0.0/12", "192.168.0.0/16"]
    assert settings.chat_webhook_kind == "webhook"
    assert settings.notifier_url == "http://localhost:8084"
    assert settings.recognition_url == "http://localhost:8083"


def test_otel_collector_config_mounted_from_the_repo_exists() -> None:
    volumes = services()["otel-collector"]["volumes"]
    sources = [str(v).split(":", 1)[0] for v in volumes if str(v).startswith("./")]
    assert sources, "the collector mounts no config file from the repository"
    for source in sources:
        assert (ROOT / source).is_file(), source


def test_otel_collector_receives_otlp_http_and_exports_to_jaeger() -> None:
    source = next(
        str(v).split(":", 1)[0]
        for v in services()["otel-collector"]["volumes"]
        if str(v).startswith("./")
    )
    config = yaml.safe_load((ROOT / source).read_text())
    http_endpoint = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http_endpoint == "0.0.0.0:4318"
    for name in APP_SERVICES:
        endpoint = environment(services()[name])["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert urlsplit(endpoint).port == 4318
    traces = config["service"]["pipelines"]["traces"]
    jaeger = [e for e in traces["exporters"] if e.split("/")[0] in ("otlp", "otlp_grpc")]
    assert jaeger, "no OTLP exporter in the traces pipeline"
    assert config["exporters"][jaeger[0]]["endpoint"].split(":")[0] == "jaeger"


def test_depends_on_targets_exist_and_healthy_ones_have_healthchecks() -> None:
    all_services = services()
    problems = []
    for name, service in all_services.items():
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):
            depends_on = {target: {"condition": "service_started"} for target in depends_on}
        for target, spec in depends_on.items():
            if target not in all_services:
                problems.append(f"{name} depends on missing {target}")
            elif (
                spec.get("condition") == "service_healthy"
                and "healthcheck" not in all_services[target]
            ):
                problems.append(f"{name} waits for {target} to be healthy; it has no healthcheck")
    assert problems == []


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_waits_for_kafka_mongo_and_redis_to_be_healthy(name: str) -> None:
    depends_on = services()[name]["depends_on"]
    for target in ("kafka", "mongo", "redis"):
        assert depends_on[target]["condition"] == "service_healthy"


def test_named_volumes_are_declared() -> None:
    compose = load_compose()
    declared = set(compose.get("volumes") or {})
    used = {
        str(v).split(":", 1)[0]
        for service in compose["services"].values()
        for v in service.get("volumes", [])
        if not str(v).startswith(("./", "/"))
    }
    assert used <= declared


def test_web_is_the_edge_on_8080_and_reads_the_services_over_the_compose_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web = services()["web"]
    assert command_of(web) == ["cop-web"]
    assert "cop-web" in project_scripts()
    env = environment(web)
    assert published_ports(web) == [(8080, 8080)]
    assert "127.0.0.1:8080/readyz" in " ".join(web["healthcheck"]["test"])
    unknown = [
        k for k in env if not k.startswith("OTEL_") and k.lower() not in WebSettings.model_fields
    ]
    assert unknown == []
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = WebSettings()
    assert settings.http_port == WebSettings.model_fields["http_port"].default == 8080
    for name, url in settings.upstream_urls().items():
        parts = urlsplit(url)
        assert parts.hostname == name
        assert parts.port == int(environment(services()[name])["HTTP_PORT"])
    assert settings.dev_sign_in  # COP_ENV=local: a try-out
