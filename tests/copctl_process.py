"""`copctl` in a process of its own, as an operator runs it."""

import os
import subprocess
import sys
from collections.abc import Mapping


def run_copctl(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m copctl ARGS` in this environment, `env` added; the caller checks the exit."""
    return subprocess.run(
        [sys.executable, "-m", "copctl", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
