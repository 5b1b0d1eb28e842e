"""A lost dependency in the log: one line when it is lost, a summary at intervals while it stays
away, one line when it is back.

A client library logs every attempt that fails: while Kafka is down, aiokafka writes "Unable
connect to node ...", "Unable to update metadata ...", "NodeNotReadyError ..." from each of its
loops, thousands of lines in a few seconds. `ConnectionErrorFilter`, on the process's log handler
(`shared.logs.configure_logging` installs it for aiokafka's loggers), lets the first of them
through as a WARNING, drops the rest, and turns one of them into a summary every
`summary_every_s` ("kafka still unreachable after 30 s: 4120 connection errors suppressed ...").
Whoever sees the dependency answer again calls `reachable()` (for Kafka: `shared.kafka_watch`,
which asks the broker every few seconds), and one INFO line says it is back and how many lines
were dropped.

`Outage` is the decision alone, with the clock passed in, so it is tested without logging.
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_SUMMARY_EVERY_S = 30.0

# What aiokafka logs (WARNING or ERROR) when it cannot reach a broker; anything else it logs
# passes untouched.
KAFKA_CONNECTION_ERRORS = re.compile(
    r"Unable connect to|Unable to (?:update|request) metadata|NodeNotReady|KafkaConnectionError"
    r"|Connect call failed|Connection refused|coordinator dead|CoordinatorNotAvailable"
    r"|RequestTimedOut|KafkaTimeoutError"
)

_log = logging.getLogger("cop.dependencies")


@dataclass(frozen=True)
class Line:
    """What to log instead of a failed attempt."""

    message: str
    state: str  # "lost" (the first failure) or "still_lost" (a summary)
    suppressed: int  # dropped since the previous line


@dataclass
class Outage:
    """Whether one dependency is away, since when, and how many failures went unlogged."""

    dependency: str
    summary_every_s: float = DEFAULT_SUMMARY_EVERY_S
    clock: Callable[[], float] = time.monotonic
    since: float | None = None
    suppressed: int = 0  # since the last line written
    suppressed_total: int = 0  # since the outage began
    last_line_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def lost(self) -> bool:
        return self.since is not None

    def failed(self, detail: str) -> Line | None:
        """A failed attempt: the line to write in its place, or None to drop it."""
        with self._lock:
            now = self.clock()
            if self.since is None:
                self.since = self.last_line_at = now
                self.suppressed = self.suppressed_total = 0
                return Line(f"{self.dependency} unreachable: {detail}", "lost", 0)
            if now - self.last_line_at < self.summary_every_s:
                self.suppressed += 1
                self.suppressed_total += 1
                return None
            line = Line(
                f"{self.dependency} still unreachable after {now - self.since:.0f} s: "
                f"{self.suppressed} connection errors suppressed in the last "
                f"{now - self.last_line_at:.0f} s (latest: {detail})",
                "still_lost",
                self.suppressed,
            )
            self.last_line_at, self.suppressed = now, 0
            return line

    def back(self) -> str | None:
        """The dependency answered: the line that says so if it was lost, else None."""
        with self._lock:
            if self.since is None:
                return None
            line = (
                f"{self.dependency} reachable again after {self.clock() - self.since:.0f} s "
                f"({self.suppressed_total} connection errors suppressed)"
            )
            self.since, self.suppressed, self.suppressed_total = None, 0, 0
            return line

    def reachable(self) -> None:
        """Log, once, that a lost dependency answers again."""
        if self.since is not None and (line := self.back()) is not None:
            _log.info(line, extra={"dependency": self.dependency, "outage": "back"})


class ConnectionErrorFilter(logging.Filter):
    """On a handler: the connection errors of the loggers under `logger` go through `outage`."""

    def __init__(self, outage: Outage, logger: str, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.outage = outage
        self._logger = logger
        self._pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not (
            record.name == self._logger or record.name.startswith(self._logger + ".")
        ):
            return True
        detail = record.getMessage()
        if not self._pattern.search(detail):
            return True
        line = self.outage.failed(detail)
        if line is None:
            return False
        record.msg, record.args = line.message, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        record.dependency = self.outage.dependency
        record.outage = line.state
        record.suppressed = line.suppressed
        return True


KAFKA = Outage("kafka")
"""The process's Kafka: lost when aiokafka logs a connection error, back when `reachable()`."""
