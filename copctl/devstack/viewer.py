"""The local trace viewer: Jaeger (v2, in-memory storage), built from its Go module.

`copctl dev up --traces` (`make up TRACES=1`, or `COP_TRACE_VIEWER=1`) builds it once into
`.local/viewer/bin/jaeger` (the Go module proxy has the source; the first build takes about 7
minutes and says every 15 s how far it is), starts it, and points the services' OTLP exporter
at it (services already running without it are restarted with it):

- OTLP/HTTP on 127.0.0.1:4318 and OTLP/gRPC on :4317 (what the services send to);
- the query API (`/api/traces/<trace id>`, used by `copctl trace`) and the UI on :16686.

A module build has no UI bundle (the Jaeger UI is a separate JavaScript project that no
registry here serves), so :16686 shows Jaeger's placeholder page; the API is complete, and
`copctl trace` prints a trace as a tree from it. Compose's Jaeger image has the full UI.
"""

import functools
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from copctl.devstack.paths import local_dir
from copctl.devstack.processes import (
    Running,
    port_open,
    run_checked,
    run_with_progress,
    running,
    start,
    wait_until,
)

JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_VERSION = "v1.76.0"  # the Go module version of Jaeger v2
NAME = "trace-viewer"
UI_PORT, OTLP_HTTP_PORT, OTLP_GRPC_PORT = 16686, 4318, 4317


def viewer_dir() -> Path:
    path = local_dir() / "viewer"
    path.mkdir(parents=True, exist_ok=True)
    return path


def binary() -> Path:
    return viewer_dir() / "bin" / "jaeger"


def build() -> Path:
    """Fetch Jaeger's module source with `go mod download` and build its binary (once)."""
    target = binary()
    if target.exists():
        return target
    if shutil.which("go") is None:
        from copctl.devstack.processes import StackError

        raise StackError("the trace viewer is built with Go; install Go 1.24+ first")
    print(f"fetching Jaeger {JAEGER_VERSION}'s source (go mod download) ...", flush=True)
    info = json.loads(
        run_checked(
            ["go", "mod", "download", "-json", f"{JAEGER_MODULE}@{JAEGER_VERSION}"],
            what="fetching Jaeger's source from the Go module proxy",
            cwd=viewer_dir(),
        )
    )
    source = viewer_dir() / f"jaeger-{JAEGER_VERSION}"
    if not source.exists():
        # The module cache is read-only, and the module's go.mod has replace directives that
        # `go install module@version` refuses: build from a copy, as the main module.
        shutil.copytree(info["Dir"], source)
        for path in [source, *source.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    target.parent.mkdir(parents=True, exist_ok=True)
    # -v: go names each package it compiles, so the wait can say how far it is.
    run_with_progress(
        ["go", "build", "-v", "-o", str(target), "./cmd/jaeger"],
        what="building Jaeger with go build (about 7 minutes the first time)",
        progress=go_build_progress,
        cwd=source,
    )
    return target


def go_build_progress(lines: Sequence[str]) -> str:
    """How far a `go build -v` is, from its output so far: modules fetched, packages compiled
    and the latest of them."""
    fetched = sum(line.startswith("go: downloading ") for line in lines)
    compiled = [line for line in lines if line and not line.startswith("go: ")]
    latest = f", latest {compiled[-1]}" if compiled else ""
    return f"{fetched} modules fetched, {len(compiled)} packages compiled{latest}"


def start_viewer(timeout_s: float = 60) -> Running:
    if (already := running(NAME)) is not None:
        return already
    proc = start(NAME, [str(build())], cwd=viewer_dir())
    wait_until(
        functools.partial(port_open, "127.0.0.1", UI_PORT),
        timeout_s=timeout_s,
        what=f"the trace viewer on :{UI_PORT}",
        process=proc,
    )
    wait_until(
        functools.partial(port_open, "127.0.0.1", OTLP_HTTP_PORT),
        timeout_s=timeout_s,
        what=f"the viewer's OTLP receiver on :{OTLP_HTTP_PORT}",
        process=proc,
    )
    return proc


def service_env() -> dict[str, str]:
    """What points a service's traces at the viewer (metrics stay on /metrics: Jaeger takes
    no metrics)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_HTTP_PORT}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
    }
