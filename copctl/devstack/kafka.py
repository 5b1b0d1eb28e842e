"""Apache Kafka, single-node KRaft, from Maven Central jars started with `java`."""

import base64
import re
import shutil
import uuid
from pathlib import Path

from copctl.devstack.paths import DEPLOY_LOCAL, local_dir
from copctl.devstack.processes import (
    DEFAULT,
    Instance,
    Running,
    StackError,
    port_open,
    run_checked,
    start,
    wait_until,
)

NAME = "kafka"
HOST, PORT, CONTROLLER_PORT = "127.0.0.1", 9092, 9093
KAFKA_DIR = DEPLOY_LOCAL / "kafka"


def version() -> str:
    """The broker version pinned in `deploy/local/kafka/pom.xml`."""
    pom = (KAFKA_DIR / "pom.xml").read_text()
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    if not found:
        raise StackError("kafka.version missing from deploy/local/kafka/pom.xml")
    return found.group(1)


def _home(instance: Instance = DEFAULT) -> Path:
    return instance.home("kafka")


def libs_dir() -> Path:
    """The jars, shared by every instance."""
    return local_dir() / "kafka" / f"libs-{version()}"


def install() -> Path:
    """Fetch the broker's runtime classpath with Maven (cached in ~/.m2 after the first run)."""
    libs = libs_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StackError("Kafka needs `java` (17+) and `mvn` on PATH")
    shutil.rmtree(libs, ignore_errors=True)
    run_checked(
        [
            "mvn", "-q", "-B", "-f", str(KAFKA_DIR / "pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        what="fetching Kafka jars with Maven",
    )  # fmt: skip
    marker.touch()
    return libs


def _cluster_id(instance: Instance) -> str:
    """A Kafka cluster id (base64url of a UUID), chosen once per data directory. Never one that
    starts with `-` (as Kafka's own `random-uuid` ensures): the storage tool would read it as an
    option and refuse to format (one id in 64)."""
    path = _home(instance) / "cluster.id"
    if not path.exists() or path.read_text().startswith("-"):
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = "-"
        while raw.startswith("-"):
            raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.write_text(raw)
    return path.read_text().strip()


def server_properties(instance: Instance, data: Path) -> str:
    """The broker's configuration: the template, on the instance's ports."""
    text = (KAFKA_DIR / "server.properties.template").read_text().format(log_dirs=data)
    for default in (PORT, CONTROLLER_PORT):
        if f"{HOST}:{default}" not in text:
            raise StackError(f"server.properties.template no longer names {HOST}:{default}")
        text = text.replace(f"{HOST}:{default}", f"{HOST}:{instance.port(default)}")
    return text


def _configure(libs: Path, instance: Instance) -> Path:
    data = _home(instance) / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = _home(instance) / "server.properties"
    config.write_text(server_properties(instance, data))
    if not (data / "meta.properties").exists():
        run_checked(
            ["java", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
             "-t", _cluster_id(instance), "-c", str(config), "-g"],
            what="formatting Kafka storage",
        )  # fmt: skip
    return config


def start_broker(instance: Instance = DEFAULT) -> Running:
    libs = install()
    config = _configure(libs, instance)
    logs = _home(instance) / "logs"
    port = instance.port(PORT)
    proc = start(
        instance.name(NAME),
        [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            "-cp", f"{libs}/*", "kafka.Kafka", str(config),
        ],
    )  # fmt: skip
    wait_until(lambda: port_open(HOST, port), timeout_s=90, what=f"Kafka on :{port}", process=proc)
    return proc


def bootstrap_servers(instance: Instance = DEFAULT) -> str:
    return f"{HOST}:{instance.port(PORT)}"
