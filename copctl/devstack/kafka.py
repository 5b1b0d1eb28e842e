"""Apache Kafka, single-node KRaft, from Maven Central jars started with `java`."""

import base64
import re
import shutil
import uuid
from pathlib import Path

from copctl.devstack.paths import DEPLOY_LOCAL, local_dir
from copctl.devstack.processes import (
    Running,
    StackError,
    port_open,
    run_checked,
    start,
    wait_until,
)

NAME = "kafka"
HOST, PORT = "127.0.0.1", 9092
KAFKA_DIR = DEPLOY_LOCAL / "kafka"


def version() -> str:
    """The broker version pinned in `deploy/local/kafka/pom.xml`."""
    pom = (KAFKA_DIR / "pom.xml").read_text()
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    if not found:
        raise StackError("kafka.version missing from deploy/local/kafka/pom.xml")
    return found.group(1)


def _home() -> Path:
    return local_dir() / "kafka"


def libs_dir() -> Path:
    return _home() / f"libs-{version()}"


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


def _cluster_id() -> str:
    """A Kafka cluster id (base64url of a UUID), chosen once per data directory."""
    path = _home() / "cluster.id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.write_text(raw)
    return path.read_text().strip()


def _configure(libs: Path) -> Path:
    data = _home() / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = _home() / "server.properties"
    template = (KAFKA_DIR / "server.properties.template").read_text()
    config.write_text(template.format(log_dirs=data))
    if not (data / "meta.properties").exists():
        run_checked(
            ["java", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
             "-t", _cluster_id(), "-c", str(config), "-g"],
            what="formatting Kafka storage",
        )  # fmt: skip
    return config


def start_broker() -> Running:
    libs = install()
    config = _configure(libs)
    logs = _home() / "logs"
    proc = start(
        NAME,
        [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            "-cp", f"{libs}/*", "kafka.Kafka", str(config),
        ],
    )  # fmt: skip
    wait_until(lambda: port_open(HOST, PORT), timeout_s=90, what="Kafka on :9092", process=proc)
    return proc


def bootstrap_servers() -> str:
    return f"{HOST}:{PORT}"
