"""A MongoDB wire-protocol server: FerretDB 1.x embedded in our Go program (SQLite backend), or,
when it cannot be built, mongo-java-server from Maven Central. A given `MONGODB_URI` wins."""

import shutil
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

NAME = "mongodb"
HOST, PORT = "127.0.0.1", 27017
FERRETDB_DIR = DEPLOY_LOCAL / "ferretdb"
JAVA_SERVER_DIR = DEPLOY_LOCAL / "mongo-java-server"


def ferretdb_version() -> str:
    """The FerretDB module version our Go program pins (the embedded build reports "unknown")."""
    for line in (FERRETDB_DIR / "go.mod").read_text().splitlines():
        if "github.com/FerretDB/FerretDB " in line:
            return line.split()[-1]
    return "unknown"


def _ferretdb_binary() -> Path:
    return local_dir() / "bin" / "ferretdb-local"


def build_ferretdb() -> Path:
    """`go build` our FerretDB program; rebuilt only when its sources changed."""
    binary = _ferretdb_binary()
    sources = [FERRETDB_DIR / n for n in ("main.go", "go.mod", "go.sum")]
    if binary.exists() and binary.stat().st_mtime >= max(s.stat().st_mtime for s in sources):
        return binary
    if shutil.which("go") is None:
        raise StackError("`go` is not on PATH")
    binary.parent.mkdir(parents=True, exist_ok=True)
    run_checked(["go", "build", "-o", str(binary), "."], cwd=FERRETDB_DIR, what="go build FerretDB")
    return binary


def _java_server_libs() -> Path:
    libs = local_dir() / "mongo-java-server" / "libs"
    if (libs / ".complete").exists():
        return libs
    run_checked(
        [
            "mvn", "-q", "-B", "-f", str(JAVA_SERVER_DIR / "pom.xml"),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        what="fetching mongo-java-server jars with Maven",
    )  # fmt: skip
    (libs / ".complete").touch()
    return libs


def _flavour_file() -> Path:
    return local_dir() / "run" / "mongodb.flavour"


def flavour() -> str:
    """Which server the local stack runs: `ferretdb` or `mongo-java-server`."""
    path = _flavour_file()
    return path.read_text().strip() if path.exists() else "unknown"


def start_mongo() -> Running:
    try:
        binary = build_ferretdb()
    except StackError as build_error:
        return _start_java_server(reason=str(build_error))
    data = local_dir() / "ferretdb"
    proc = start(
        NAME,
        [str(binary), "-listen-addr", f"{HOST}:{PORT}", "-sqlite-dir", str(data),
         "-log-level", "error"],
    )  # fmt: skip
    _flavour_file().write_text("ferretdb")
    wait_until(lambda: port_open(HOST, PORT), timeout_s=30, what="FerretDB on :27017", process=proc)
    return proc


def _start_java_server(reason: str) -> Running:
    print(f"FerretDB could not be built, using mongo-java-server instead:\n{reason[-800:]}")
    libs = _java_server_libs()
    h2 = local_dir() / "mongo-java-server" / "data.mv"
    proc = start(
        NAME,
        [
            "java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{libs}/*",
            str(JAVA_SERVER_DIR / "MongoJavaServer.java"),
            "--host", HOST, "--port", str(PORT), "--h2-file", str(h2),
        ],
    )  # fmt: skip
    _flavour_file().write_text("mongo-java-server")
    wait_until(
        lambda: port_open(HOST, PORT), timeout_s=60, what="mongo-java-server :27017", process=proc
    )
    return proc


def uri() -> str:
    return f"mongodb://{HOST}:{PORT}"
