"""Starting and stopping the stack's processes, each recorded in a pid file so that `down`
stops exactly what `up` started (and never a process that merely reused the pid)."""

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from copctl.devstack.paths import local_dir, logs_dir, run_dir


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class Instance:
    """One local stack. The default one runs on the documented ports with its files in
    `.local/`; another (a test suite's own Kafka, MongoDB and Redis that it may kill at will)
    runs beside it with a name prefix, its ports shifted by `port_offset` and its data in
    `data_dir`. Process names (pid files, logs) carry the prefix."""

    prefix: str = ""
    port_offset: int = 0
    data_dir: Path | None = None

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def port(self, base: int) -> int:
        return base + self.port_offset

    def home(self, component: str) -> Path:
        """Where one component (kafka, mongo-java-server, redis) keeps its data."""
        return (self.data_dir or local_dir()) / component


DEFAULT = Instance()


@dataclass(frozen=True)
class Running:
    name: str
    pid: int
    log: Path


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pidfile(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def _launchfile(name: str) -> Path:
    return run_dir() / f"{name}.launch.json"


def log_path(name: str) -> Path:
    return logs_dir() / f"{name}.log"


def running(name: str) -> Running | None:
    """The process `name` if we started it and it is still alive."""
    pidfile = _pidfile(name)
    try:
        pid_text, ticks = pidfile.read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    if _start_ticks(pid) != ticks:
        pidfile.unlink(missing_ok=True)
        return None
    return Running(name, pid, log_path(name))


def start(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Running:
    """Start `argv` in its own session (its own process group), logging to `.local/logs/`.

    How it was started (command, the environment given here, folder) is recorded, so that
    `restart` starts it again the same way."""
    if (already := running(name)) is not None:
        return already
    launch = _launchfile(name)
    launch.write_text(
        json.dumps({"argv": list(argv), "env": dict(env or {}), "cwd": str(cwd) if cwd else None})
    )
    launch.chmod(0o600)
    log = log_path(name)
    with log.open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {name}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    ticks = _start_ticks(proc.pid)
    _pidfile(name).write_text(f"{proc.pid} {ticks}\n")
    return Running(name, proc.pid, log)


def restart_same(name: str) -> Running:
    """Start `name` again as it was last started (after it stopped or was killed)."""
    try:
        launch = json.loads(_launchfile(name).read_text())
    except (OSError, ValueError):
        raise StackError(f"{name} was never started by copctl here: nothing to restart") from None
    cwd = Path(launch["cwd"]) if launch.get("cwd") else None
    return start(name, launch["argv"], env=launch["env"], cwd=cwd)


def launched_env(name: str) -> dict[str, str]:
    """The environment `name` was last started with (beyond the caller's own)."""
    try:
        return dict(json.loads(_launchfile(name).read_text())["env"])
    except (OSError, ValueError, KeyError):
        return {}


def launched_argv(name: str) -> list[str]:
    """The command `name` was last started with; empty if copctl never started it here."""
    try:
        return [str(arg) for arg in json.loads(_launchfile(name).read_text())["argv"]]
    except (OSError, ValueError, KeyError):
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return _start_ticks(pid) is not None and _state(pid) != "Z"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def _signal_group(pid: int, sig: signal.Signals, *, wait_s: float, poll_s: float) -> bool:
    """Send `sig` to the process group led by `pid` and wait up to `wait_s` for the leader to
    exit. True if it did."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + wait_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(poll_s)
    return not _alive(pid)


def stop(name: str, timeout_s: float = 20.0) -> bool:
    """SIGTERM the process group we started, SIGKILL after the timeout. True if it was running."""
    proc = running(name)
    if proc is None:
        return False
    if not _signal_group(proc.pid, signal.SIGTERM, wait_s=timeout_s, poll_s=0.1):
        _signal_group(proc.pid, signal.SIGKILL, wait_s=0, poll_s=0)
    _pidfile(name).unlink(missing_ok=True)
    return True


def kill(name: str, timeout_s: float = 10.0) -> bool:
    """SIGKILL the process group we started, at once: no shutdown code runs, as in a crash.
    True if it was running."""
    proc = running(name)
    if proc is None:
        return False
    _signal_group(proc.pid, signal.SIGKILL, wait_s=timeout_s, poll_s=0.05)
    _pidfile(name).unlink(missing_ok=True)
    return True


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    process: Running | None = None,
    interval_s: float = 0.2,
) -> None:
    """Poll `check` until it holds; fail early if the process we wait for has died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and not _alive(process.pid):
            raise StackError(f"{process.name} exited while waiting for {what}; see {process.log}")
        time.sleep(interval_s)
    hint = f"; see {process.log}" if process else ""
    raise StackError(f"timed out after {timeout_s:.0f}s waiting for {what}{hint}")


def start_listening(
    name: str,
    argv: Sequence[str],
    *,
    host: str,
    port: int,
    timeout_s: float,
    what: str,
    cwd: Path | None = None,
) -> Running:
    """Start a server (as `start` does) and wait until it accepts connections on `host:port`."""
    proc = start(name, argv, cwd=cwd)
    wait_until(
        lambda: port_open(host, port), timeout_s=timeout_s, what=f"{what} on :{port}", process=proc
    )
    return proc


def run_with_progress(
    argv: Sequence[str],
    *,
    what: str,
    progress: Callable[[Sequence[str]], str],
    cwd: Path | None = None,
    every_s: float = 15.0,
    say: Callable[[str], None] = functools.partial(print, flush=True),
) -> None:
    """Run a set-up step of minutes (the first build of the trace viewer), saying what it does,
    then every `every_s` that it goes on and how far (`progress` of its output lines so far),
    and when it is done. Fails with the end of its output if it fails."""
    began = time.monotonic()
    say(f"{what} ...")
    lines: list[str] = []
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout

    def read() -> None:
        for line in output:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while True:
        try:
            proc.wait(timeout=every_s)
            break
        except subprocess.TimeoutExpired:
            say(f"  still {what} ({time.monotonic() - began:.0f} s): {progress(list(lines))}")
    reader.join(timeout=10)
    if proc.returncode != 0:
        tail = "\n".join(lines)[-4000:]
        raise StackError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    say(f"  {what}: done in {time.monotonic() - began:.0f} s ({progress(lines)})")


def run_checked(argv: Sequence[str], *, what: str, cwd: Path | None = None) -> str:
    """Run a set-up step (mvn, go build, apt-get) and fail with its output if it fails."""
    result = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise StackError(f"{what} failed (exit {result.returncode}):\n{output}")
    return result.stdout
