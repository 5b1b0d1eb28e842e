"""The local MongoDB-protocol server: how it is started and how the test summary names it."""

from pathlib import Path

from copctl.devstack import mongo
from tests.infra import _mongo_server_name


def test_the_local_server_is_mongo_java_server_on_an_h2_file_at_the_pinned_version() -> None:
    assert mongo.java_server_version() not in ("", "unknown")
    argv = mongo.server_command(
        Path("/libs"), host="127.0.0.1", port=27017, h2_file=Path("/data/data.mv")
    )
    assert argv[0] == "java"
    assert str(mongo.LAUNCHER) in argv
    assert argv[argv.index("--h2-file") + 1] == "/data/data.mv"
    assert argv[argv.index("--port") + 1] == "27017"
    assert int(argv[argv.index("--cache-mb") + 1]) >= 256  # scans fall off a cliff past the cache


def test_the_summary_names_mongo_java_server_with_its_version_and_backend() -> None:
    info = {"version": "4.4.0", "mongoJavaServerVersion": "1.47.0", "mongoJavaServerBackend": "h2"}
    assert _mongo_server_name(info) == "mongo-java-server 1.47.0 (H2 file)"
    assert _mongo_server_name({**info, "mongoJavaServerBackend": "memory"}) == (
        "mongo-java-server 1.47.0 (in memory)"
    )
    assert _mongo_server_name({"version": "4.4.0"}) == "mongo-java-server (version not reported)"


def test_the_summary_names_ferretdb_and_mongodb() -> None:
    assert _mongo_server_name({"ferretdbVersion": "unknown", "gitVersion": "x"}) == "FerretDB"
    assert _mongo_server_name({"ferretdbVersion": "v1.24.2", "gitVersion": "x"}) == (
        "FerretDB v1.24.2"
    )
    assert _mongo_server_name({"version": "8.0.4", "gitVersion": "abc"}) == "MongoDB"
