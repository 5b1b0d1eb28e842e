"""Apache Kafka, single-node KRaft, from Maven Central jars started with `java`."""

import base64
import shutil
import uuid
from pathlib import Path

from copctl.devstack.maven import pinned_version, runtime_jars
from copctl.devstack.paths import DEPLOY_LOCAL, local_dir
from copctl.devstack.processes import (
    DEFAULT,
    Instance,
    Running,
    StackError,
    run_checked,
    start_listening,
)

NAME = "kafka"
HOST, PORT, CONTROLLER_PORT = "127.0.0.1", 9092, 9093
KAFKA_DIR = DEPLOY_LOCAL / "kafka"


def version() -> str:
    """The broker version pinned in `deploy/local/kafka/pom.xml`."""
    found = pinned_version(KAFKA_DIR / "pom.xml", "kafka.version")
    if not found:
        raise StackError("kafka.version missing from deploy/local/kafka/pom.xml")
    return found


def _home(instance: Instance = DEFAULT) -> Path:
    return instance.home("kafka")


def libs_dir() -> Path:
    """The jars, shared by every instance."""
    return local_dir() / "kafka" / f"libs-{version()}"


def install() -> Path:
    """Fetch the broker's runtime classpath with Maven (cached in ~/.m2 after the first run)."""
    return runtime_jars(KAFKA_DIR / "pom.xml", libs_dir(), component="Kafka")


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


def remove_deleted_partitions(data: Path) -> int:
    """Remove the partition directories of deleted topics that a stopped broker left behind
    (`<topic>-<n>.<id>-delete`); returns how many. A broker removes them itself, but one after
    another while it starts, which after a test session's thousands of topics takes minutes."""
    doomed = [d for d in data.glob("*-delete") if d.is_dir()]
    for directory in doomed:
        shutil.rmtree(directory, ignore_errors=True)
    return len(doomed)


def _configure(libs: Path, instance: Instance) -> Path:
    data = _home(instance) / "data"
    data.mkdir(parents=True, exist_ok=True)
    remove_deleted_partitions(data)
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
    return start_listening(
        instance.name(NAME),
        [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            "-cp", f"{libs}/*", "kafka.Kafka", str(config),
        ],
        host=HOST,
        port=instance.port(PORT),
        timeout_s=90,
        what="Kafka",
    )  # fmt: skip


def bootstrap_servers(instance: Instance = DEFAULT) -> str:
    return f"{HOST}:{instance.port(PORT)}"
