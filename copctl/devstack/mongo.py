"""The local MongoDB wire-protocol server: mongo-java-server (`de.bwaldvogel`, Maven Central) with
its H2 file backend, data in `.local/mongo-java-server/`. A given `MONGODB_URI` wins.

Why this one (measured with `python -m bench.mongo_servers`, see
docs/operations.md#the-mongodb-protocol-server): every operation
keyed by `_id` alone stays at about 1 ms from 10k to 200k documents, and a bulk write of 500
statements answers in a fraction of a second. FerretDB 1.24 grows linearly with the collection on
SQLite (and on PostgreSQL) and hangs for good on a bulk write of 100 statements (50 on
PostgreSQL). The jars come from Maven Central with `mvn`; nothing is compiled ahead of time (the
launcher runs as a single-file Java program).
"""

import hashlib
import shutil
from pathlib import Path

from copctl.devstack.maven import pinned_version, runtime_jars
from copctl.devstack.paths import DEPLOY_LOCAL, local_dir
from copctl.devstack.processes import DEFAULT, Instance, Running, start_listening

NAME = "mongodb"
HOST, PORT = "127.0.0.1", 27017
JAVA_SERVER_DIR = DEPLOY_LOCAL / "mongo-java-server"
POM = JAVA_SERVER_DIR / "pom.xml"
LAUNCHER = JAVA_SERVER_DIR / "MongoJavaServer.java"
# H2's page cache. A scan (any filter that is not `_id` alone) of a collection larger than the
# cache falls off a cliff: 200k documents took 4.4 s with 64 MB and 0.11 s with 1 GB.
CACHE_MB = 512


def java_server_version() -> str:
    """The mongo-java-server version `deploy/local/mongo-java-server/pom.xml` pins."""
    return pinned_version(POM, "mongo-java-server.version") or "unknown"


def _home(instance: Instance = DEFAULT) -> Path:
    return instance.home("mongo-java-server")


def java_server_libs() -> Path:
    """The pom's runtime jars, fetched once with Maven; fetched again when the pom changes."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    libs = _home() / f"libs-{java_server_version()}-{digest}"  # shared by every instance
    if (libs / ".complete").exists():
        return libs
    runtime_jars(POM, libs, component="mongo-java-server")
    for old in _home().glob("libs*"):
        if old != libs and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return libs


def server_command(libs: Path, *, host: str, port: int, h2_file: Path) -> list[str]:
    """The command line of the server (also used by `bench.mongo_servers` measurements)."""
    return [
        "java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{libs}/*",
        str(LAUNCHER), "--host", host, "--port", str(port), "--h2-file", str(h2_file),
        "--cache-mb", str(CACHE_MB),
    ]  # fmt: skip


def _flavour_file(instance: Instance = DEFAULT) -> Path:
    return local_dir() / "run" / f"{instance.name(NAME)}.flavour"


def flavour(instance: Instance = DEFAULT) -> str:
    """Which server the local stack runs, e.g. `mongo-java-server 1.47.0, H2 file`."""
    path = _flavour_file(instance)
    return path.read_text().strip() if path.exists() else "unknown"


def start_mongo(instance: Instance = DEFAULT) -> Running:
    libs = java_server_libs()
    h2_file = _home(instance) / "data.mv"
    h2_file.parent.mkdir(parents=True, exist_ok=True)
    port = instance.port(PORT)
    _flavour_file(instance).write_text(f"mongo-java-server {java_server_version()}, H2 file\n")
    return start_listening(
        instance.name(NAME),
        server_command(libs, host=HOST, port=port, h2_file=h2_file),
        host=HOST,
        port=port,
        timeout_s=60,
        what="mongo-java-server",
    )


def uri(instance: Instance = DEFAULT) -> str:
    return f"mongodb://{HOST}:{instance.port(PORT)}"
