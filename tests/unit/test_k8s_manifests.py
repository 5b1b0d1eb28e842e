"""deploy/k8s agrees with the code: scripts, settings fields, ports and health endpoints.

The manifests are read as YAML (no cluster needed) and compared with pyproject.toml and the
settings classes, the same way tests/unit/test_compose.py checks docker-compose.yml.
"""

import tomllib
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.notifier.settings import NotifierSettings
from services.web.settings import WebSettings
from shared.settings import LOCAL_AUTH_TOKEN_SECRET, ServiceSettings
from tests.unit.deployed_services import ROOT, SETTINGS_CLASSES, settings_class

K8S_DIR = ROOT / "deploy" / "k8s"

SECRET_NAME = "cop-secrets"
# What an operator puts in the Secret (kustomization.yaml says how).
SECRET_DATA = {"AUTH_TOKEN_SECRET": "a-long-random-value-from-openssl-rand-hex-32"}

APP_SERVICES = list(SETTINGS_CLASSES)


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def only(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        doc
        for doc in documents()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    return loaded


def deployment(name: str) -> dict[str, Any]:
    found = only("Deployment", name)
    assert len(found) == 1, f"expected one Deployment named {name}, found {len(found)}"
    return found[0]


def container(name: str) -> dict[str, Any]:
    containers = deployment(name)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    only: dict[str, Any] = containers[0]
    return only


def container_env(name: str) -> dict[str, str]:
    """The container's literal env values (not those taken from a Secret)."""
    return {
        item["name"]: str(item["value"])
        for item in container(name).get("env", [])
        if "value" in item
    }


def secret_env(name: str) -> dict[str, dict[str, Any]]:
    """The container's env values taken from a Secret key: name -> secretKeyRef."""
    return {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container(name).get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {})
    }


def manifest_env(name: str) -> dict[str, str]:
    """The environment a pod gets: ConfigMap, the Secret's keys, then the container's env."""
    secret_keys = {var: SECRET_DATA[ref["key"]] for var, ref in secret_env(name).items()}
    return {**common_config(), **SECRET_DATA, **container_env(name), **secret_keys}


def common_config() -> dict[str, str]:
    configs = only("ConfigMap")
    assert len(configs) == 1
    return {key: str(value) for key, value in configs[0]["data"].items()}


def pod_settings(name: str, monkeypatch: pytest.MonkeyPatch, **changes: str) -> ServiceSettings:
    """The service's settings as its pod reads them from `manifest_env`, with `changes`."""
    for key, value in {**manifest_env(name), **changes}.items():
        monkeypatch.setenv(key, value)
    return settings_class(name)()


def named_port(name: str, port_name: str) -> int:
    ports: dict[str, int] = {p["name"]: p["containerPort"] for p in container(name)["ports"]}
    return ports[port_name]


def probe_port(name: str, probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    return named_port(name, port) if isinstance(port, str) else int(port)


def test_kustomization_lists_every_manifest_in_the_directory() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_kustomization_namespace_is_the_declared_namespace() -> None:
    namespaces = [doc["metadata"]["name"] for doc in only("Namespace")]
    assert namespaces == [kustomization()["namespace"]]


def test_every_service_has_a_deployment_and_a_service() -> None:
    assert {d["metadata"]["name"] for d in only("Deployment")} == set(APP_SERVICES)
    assert {s["metadata"]["name"] for s in only("Service")} == set(APP_SERVICES)


def test_configmap_keys_are_common_settings_fields_or_otel() -> None:
    fields = ServiceSettings.model_fields
    unknown = [k for k in common_config() if not k.startswith("OTEL_") and k.lower() not in fields]
    assert unknown == []


def test_configmap_binds_http_on_all_interfaces() -> None:
    assert common_config()["HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_env_vars_are_settings_fields_or_otel(name: str) -> None:
    fields = settings_class(name).model_fields
    names = [*container_env(name), *secret_env(name)]
    unknown = [k for k in names if not k.startswith("OTEL_") and k.lower() not in fields]
    assert unknown == []


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_reads_the_common_configmap(name: str) -> None:
    config_name = only("ConfigMap")[0]["metadata"]["name"]
    refs = [
        src["configMapRef"]["name"] for src in container(name)["envFrom"] if "configMapRef" in src
    ]
    assert refs == [config_name]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_runs_its_console_script(name: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    command = container(name)["command"]
    assert command == [f"cop-{name}"]
    assert command[0] in scripts


@pytest.mark.parametrize("name", APP_SERVICES)
def test_container_port_is_http_port_and_settings_default(name: str) -> None:
    port = named_port(name, "http")
    assert port == int(container_env(name)["HTTP_PORT"])
    assert port == settings_class(name).model_fields["http_port"].default


@pytest.mark.parametrize("name", APP_SERVICES)
def test_readiness_probe_is_readyz_and_liveness_is_healthz(name: str) -> None:
    spec = container(name)
    http_port = named_port(name, "http")
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probe_port(name, spec["readinessProbe"]) == http_port
    assert probe_port(name, spec["livenessProbe"]) == http_port


@pytest.mark.parametrize("name", APP_SERVICES)
def test_container_has_cpu_and_memory_requests_and_limits(name: str) -> None:
    resources = container(name)["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[section]), section


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_scales_out_to_at_least_two_replicas(name: str) -> None:
    assert deployment(name)["spec"]["replicas"] >= 2


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_disables_service_link_env_vars(name: str) -> None:
    # Service links inject e.g. SMTP_PORT=tcp://10.0.0.1:25, which would break the settings.
    assert deployment(name)["spec"]["template"]["spec"]["enableServiceLinks"] is False


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_selector_matches_its_pod_labels(name: str) -> None:
    spec = deployment(name)["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_selects_the_pods_and_targets_the_http_port(name: str) -> None:
    (service,) = only("Service", name)
    pod_labels = deployment(name)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    target = port["targetPort"]
    target_port = named_port(name, target) if isinstance(target, str) else int(target)
    assert target_port == named_port(name, "http")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_parse_from_the_configmap_and_deployment_env(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pod_settings(name, monkeypatch)
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == named_port(name, "http")
    assert settings.kafka_bootstrap_servers == manifest_env(name)["KAFKA_BOOTSTRAP_SERVERS"]


def test_notifier_chat_is_off_until_a_webhook_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = pod_settings("notifier", monkeypatch)
    assert isinstance(settings, NotifierSettings)
    assert not settings.chat_webhook_url
    assert settings.chat_allowed_hosts == []
    assert settings.chat_allowed_networks == []


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_requires_the_secret(name: str) -> None:
    refs = [src["secretRef"] for src in container(name)["envFrom"] if "secretRef" in src]
    assert [ref["name"] for ref in refs] == [SECRET_NAME]
    assert not any(ref.get("optional") for ref in refs)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_deployment_takes_the_token_secret_from_a_required_secret_key(name: str) -> None:
    ref = secret_env(name)["AUTH_TOKEN_SECRET"]
    assert (ref["name"], ref["key"]) == (SECRET_NAME, "AUTH_TOKEN_SECRET")
    assert not ref.get("optional")


def test_configmap_declares_an_environment_that_is_not_local() -> None:
    assert common_config()["COP_ENV"] not in ("", "local")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_from_the_manifests_refuse_the_public_default_token_secret(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="AUTH_TOKEN_SECRET is the public local default"):
        pod_settings(name, monkeypatch, AUTH_TOKEN_SECRET=LOCAL_AUTH_TOKEN_SECRET)


def test_web_reads_the_services_through_their_cluster_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = pod_settings("web", monkeypatch)
    assert isinstance(settings, WebSettings)
    assert not settings.dev_sign_in  # production: nobody signs in by picking a member id
    for name, url in settings.upstream_urls().items():
        (service,) = only("Service", name)
        assert url == f"http://{name}:{service['spec']['ports'][0]['port']}"
