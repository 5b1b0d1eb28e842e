"""`copctl trace EVENT_ID --files DIR`: an event's trace from the span files, as a tree."""

import json
from pathlib import Path
from typing import Any

from tests.copctl_process import run_copctl

TRACE = "0af7651916cd43dd8448eb211c80319c"


def span(
    span_id: str, parent: str | None, service: str, name: str, start: int, **attrs: Any
) -> str:
    return json.dumps(
        {
            "trace_id": TRACE,
            "span_id": span_id,
            "parent_span_id": parent,
            "name": name,
            "kind": "INTERNAL",
            "service": service,
            "start_ns": start * 1_000_000,
            "end_ns": (start + 5) * 1_000_000,
            "status": "ERROR" if name == "webhook POST" else "UNSET",
            "attributes": attrs,
            "links": [],
        }
    )


def test_copctl_trace_prints_the_events_trace_as_an_indented_tree(tmp_path: Path) -> None:
    (tmp_path / "recognition.jsonl").write_text(
        "\n".join(
            [
                span("a" * 16, None, "cop-recognition", "POST /kudos", 0),
                span(
                    "b" * 16,
                    "a" * 16,
                    "cop-recognition",
                    "send cop.recognition",
                    1,
                    **{"messaging.message.id": "ev-1"},
                ),
                "not json",
            ]
        )
    )
    (tmp_path / "notifier.jsonl").write_text(
        span("c" * 16, "b" * 16, "cop-notifier", "notifier handle cop.kudos.judged.v1", 2)
        + "\n"
        + span("d" * 16, "c" * 16, "cop-notifier", "webhook POST", 3)
        + "\n"
        + json.dumps(
            {**json.loads(span("e" * 16, None, "cop-x", "other", 0)), "trace_id": "1" * 32}
        )
    )
    result = run_copctl("trace", "ev-1", "--files", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"trace {TRACE} (4 spans)",
        "cop-recognition: POST /kudos (5.0 ms)",
        "  cop-recognition: send cop.recognition (5.0 ms)",
        "    cop-notifier: notifier handle cop.kudos.judged.v1 (5.0 ms)",
        "      cop-notifier: webhook POST (5.0 ms) ERROR",
    ]


def test_copctl_trace_says_when_no_span_carries_the_event(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text("")
    result = run_copctl("trace", "missing", "--files", str(tmp_path))
    assert result.returncode == 1
    assert "missing" in result.stderr
