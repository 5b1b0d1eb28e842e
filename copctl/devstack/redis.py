"""Redis from Debian's `redis-server` package (installed when missing)."""

import os
import shutil

from copctl.devstack.paths import local_dir
from copctl.devstack.processes import Running, StackError, port_open, run_checked, start, wait_until

NAME = "redis"
HOST, PORT = "127.0.0.1", 6379


def install() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError("redis-server is missing: install Debian's redis-server package")
    run_checked(["apt-get", "update", "-qq"], what="apt-get update")
    run_checked(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
        what="installing redis-server",
    )
    found = shutil.which("redis-server")
    if not found:
        raise StackError("redis-server is still missing after apt-get install")
    return found


def start_redis() -> Running:
    binary = install()
    data = local_dir() / "redis"
    data.mkdir(parents=True, exist_ok=True)
    proc = start(
        NAME,
        [
            binary, "--bind", HOST, "--port", str(PORT), "--dir", str(data),
            "--daemonize", "no", "--appendonly", "yes", "--save", "",
        ],
    )  # fmt: skip
    wait_until(lambda: port_open(HOST, PORT), timeout_s=20, what="Redis on :6379", process=proc)
    return proc


def url() -> str:
    return f"redis://{HOST}:{PORT}/0"
