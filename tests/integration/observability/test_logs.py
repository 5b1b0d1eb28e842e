"""Logs: JSON lines with the current span's trace id, and no secret in any of them."""

import json
import subprocess
import sys
import textwrap

from shared.outbound import scrub_url

SCRIPT = textwrap.dedent(
    """
    import logging
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from shared.logs import configure_logging, get_logger

    configure_logging("cop-test", "INFO", ["s3cr3t-smtp-password", "https://hooks.example.com/T1/B2/XyZ"])
    trace.set_tracer_provider(TracerProvider())
    with trace.get_tracer("t").start_as_current_span("request") as span:
        ctx = span.get_span_context()
        print(f"{ctx.trace_id:032x} {ctx.span_id:016x}", flush=True)
        logging.getLogger("cop.test").warning(
            "login with s3cr3t-smtp-password to https://hooks.example.com/T1/B2/XyZ failed"
        )
        logging.getLogger("httpx").warning(
            "POST https://chat.example.org/hooks/abc123?token=zzz answered"
        )
        get_logger("cop.test").info(
            "called",
            header="Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
            api_key="cop_AbCdEf123456789",
        )
    logging.getLogger("cop.test").info("outside any span")
    """
)


def test_log_lines_are_json_with_trace_ids_and_without_secrets() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    trace_id, span_id = result.stdout.split()
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 4
    inside, outside = lines[:3], lines[3]
    for line in inside:
        assert line["trace_id"] == trace_id
        assert line["span_id"] == span_id
        assert line["service"] == "cop-test"
        assert {"timestamp", "level", "logger", "message"} <= set(line)
    assert "trace_id" not in outside
    text = result.stderr
    for secret in (
        "s3cr3t-smtp-password",
        "T1/B2/XyZ",
        "abc123",
        "zzz",
        "eyJhbGciOi",
        "cop_AbCdEf123456789",
    ):
        assert secret not in text
    assert "https://chat.example.org/[REDACTED]" in text
    assert inside[2]["header"] == "Bearer [REDACTED]"


def test_a_webhook_url_in_a_span_keeps_only_scheme_host_and_port() -> None:
    assert scrub_url("https://hooks.slack.com/services/T0/B0/secret") == (
        "https://hooks.slack.com/REDACTED"
    )
    assert scrub_url("http://user:pw@127.0.0.1:8090/hooks/x?sig=1") == (
        "http://127.0.0.1:8090/REDACTED"
    )
    assert scrub_url("https://example.com") == "https://example.com"
