"""Redis from Debian's `redis-server` package (installed when missing)."""

import os
import shutil

from copctl.devstack.processes import (
    DEFAULT,
    Instance,
    Running,
    StackError,
    run_checked,
    start_listening,
)

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


def start_redis(instance: Instance = DEFAULT) -> Running:
    binary = install()
    data = instance.home("redis")
    data.mkdir(parents=True, exist_ok=True)
    port = instance.port(PORT)
    return start_listening(
        instance.name(NAME),
        [
            binary, "--bind", HOST, "--port", str(port), "--dir", str(data),
            "--daemonize", "no", "--appendonly", "yes", "--save", "",
        ],
        host=HOST,
        port=port,
        timeout_s=20,
        what="Redis",
    )  # fmt: skip


def url(instance: Instance = DEFAULT) -> str:
    return f"redis://{HOST}:{instance.port(PORT)}/0"
