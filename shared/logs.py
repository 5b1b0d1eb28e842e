"""Logs as JSON lines (structlog), configured once per process by `configure_logging`.

Every line carries `timestamp`, `level`, `logger`, `message`, the `service`, and, inside a span,
its `trace_id` and `span_id`, so a log line leads to its trace and back. The standard library's
loggers (ours, uvicorn's, aiokafka's, ...) go through the same renderer.

No secret reaches a line: the values of the settings that are secrets (token secrets, SMTP
passwords, webhook URLs and their signing secrets) are replaced wherever they appear, and so are
bearer tokens, API keys, JWTs, `token=`/`key=`-like query parameters and the path of any URL
(webhook URLs carry their token in the path).
"""

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import trace

from shared.outage_log import KAFKA, KAFKA_CONNECTION_ERRORS, ConnectionErrorFilter

REDACTED = "[REDACTED]"
_HANDLER_NAME = "cop-json"
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\bcop_[A-Za-z0-9_-]{8,}"), REDACTED),
    (
        re.compile(
            r"(?i)([?&;](?:token|key|api_key|apikey|secret|signature|sig|password)=)[^&\s\"']+"
        ),
        r"\1" + REDACTED,
    ),
    # scheme://[user:pass@]host[:port]/path?query -> scheme://host[:port]/[REDACTED]
    (
        re.compile(r"\b(https?://)(?:[^/\s@\"']+@)?([^/\s\"'?#]+)[/?][^\s\"']*"),
        r"\1\2/" + REDACTED,
    ),
)
_SECRET_FIELD = re.compile(r"secret|password|passwd|token|api_key|webhook_url|credential")

_secrets: list[str] = []


def secrets_of(settings: Any) -> list[str]:
    """The values of a settings object's fields whose names say they are secret."""
    found = []
    for name, value in settings.model_dump().items():
        if _SECRET_FIELD.search(name) and isinstance(value, str) and len(value) >= 6:
            found.append(value)
    return found


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_values(v) for v in value]
    return value


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        event[key] = _redact_values(value)
    return event


def _drop_colours(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    return event


def _trace_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", f"{ctx.trace_id:032x}")
        event.setdefault("span_id", f"{ctx.span_id:016x}")
    return event


def _dumps(event: Any, **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


def configure_logging(service: str, level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr for structlog and the standard library's loggers alike.

    Safe to call again (e.g. once uvicorn has installed its own handlers): the process keeps
    one handler, and the secrets given are added to those already known.
    """
    _secrets.extend(s for s in secrets if s and s not in _secrets)
    _secrets.sort(key=len, reverse=True)
    pre_chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _trace_context,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*pre_chain, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            _add_service(service),
            _drop_colours,
            _redact,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
    )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(formatter)
    # A broker that is away makes aiokafka log every failed attempt, thousands a second: one
    # line when it is lost, a summary every 30 s, one when it is back (shared.outage_log).
    if not any(isinstance(f, ConnectionErrorFilter) for f in handler.filters):
        handler.addFilter(ConnectionErrorFilter(KAFKA, "aiokafka", KAFKA_CONNECTION_ERRORS))
    root.setLevel(level.upper())
    # uvicorn and FastStream install handlers of their own that print plain text: let their
    # lines reach ours instead.
    names = [n for n in logging.root.manager.loggerDict if n.startswith(("uvicorn", "faststream"))]
    for name in {"uvicorn", "uvicorn.error", "uvicorn.access", *names}:
        framework_logger = logging.getLogger(name)
        framework_logger.handlers = []
        framework_logger.propagate = True
    # httpx logs every request's full URL at INFO; a webhook's URL is a secret.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*pre_chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _add_service(service: str) -> Any:
    def add(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    return add


def get_logger(name: str) -> Any:
    """A structlog logger: `log.info("kudos judged", kudos_id=...)` keeps fields as JSON keys."""
    return structlog.stdlib.get_logger(name)
