"""The Java parts of the local stack (Kafka, mongo-java-server): the version a `pom.xml` pins and
the runtime jars it declares, fetched with Maven (cached in ~/.m2 after the first run)."""

import re
import shutil
from pathlib import Path

from copctl.devstack.processes import StackError, run_checked


def pinned_version(pom: Path, prop: str) -> str | None:
    """The value of the pom's property `prop` (e.g. `kafka.version`); None when it has none."""
    tag = re.escape(prop)
    found = re.search(rf"<{tag}>([^<]+)</{tag}>", pom.read_text())
    return found.group(1).strip() if found else None


def runtime_jars(pom: Path, libs: Path, *, component: str) -> Path:
    """`libs`, holding the runtime classpath of `pom`: fetched with Maven unless an earlier fetch
    completed (an interrupted one is started over)."""
    marker = libs / ".complete"
    if marker.exists():
        return libs
    for tool in ("mvn", "java"):
        if shutil.which(tool) is None:
            raise StackError(f"`{tool}` is not on PATH: {component} needs Java 17+ and Maven")
    shutil.rmtree(libs, ignore_errors=True)
    run_checked(
        [
            "mvn", "-q", "-B", "-f", str(pom),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        what=f"fetching {component} jars with Maven",
    )  # fmt: skip
    marker.touch()
    return libs
