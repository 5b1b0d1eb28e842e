"""Where the local stack keeps its files: everything under `.local/` in the repository."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_LOCAL = REPO_ROOT / "deploy" / "local"


def local_dir() -> Path:
    """`.local/` of the repository, or `COP_LOCAL_DIR` when set."""
    return Path(os.environ.get("COP_LOCAL_DIR", REPO_ROOT / ".local")).resolve()


def run_dir() -> Path:
    path = local_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = local_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
