"""A lost dependency is logged once, then summarised at intervals, then once when it is back."""

import logging

import pytest

from shared.outage_log import KAFKA_CONNECTION_ERRORS, ConnectionErrorFilter, Outage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outage(clock: Clock) -> Outage:
    return Outage("kafka", summary_every_s=30.0, clock=clock)


def _record(message: str, name: str = "aiokafka", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_the_first_failure_is_written_and_the_next_ones_are_dropped(
    outage: Outage, clock: Clock
) -> None:
    first = outage.failed("Unable connect to node with id 1")
    assert first is not None
    assert first.state == "lost"
    assert first.message == "kafka unreachable: Unable connect to node with id 1"
    for _ in range(1000):
        clock.now += 0.01
        assert outage.failed("Unable connect to node with id 1") is None
    assert outage.suppressed_total == 1000


def test_a_summary_every_interval_counts_what_was_dropped(outage: Outage, clock: Clock) -> None:
    outage.failed("Unable connect")
    written = []
    start = clock.now
    for tenth in range(1, 701):  # 70 s of failures, ten a second
        clock.now = start + tenth / 10
        if (line := outage.failed("NodeNotReadyError")) is not None:
            written.append(line)
    assert [w.state for w in written] == ["still_lost", "still_lost"]
    assert written[0].suppressed == 299
    assert written[0].message.startswith("kafka still unreachable after 30 s: 299 connection")
    assert "(latest: NodeNotReadyError)" in written[0].message
    assert written[1].suppressed == 299
    assert "after 60 s" in written[1].message


def test_back_is_said_once_with_the_total_and_a_new_loss_starts_over(
    outage: Outage, clock: Clock
) -> None:
    assert outage.back() is None  # never lost: nothing to say
    outage.failed("Unable connect")
    for _ in range(42):
        outage.failed("Unable connect")
    clock.now += 14
    assert outage.back() == "kafka reachable again after 14 s (42 connection errors suppressed)"
    assert outage.back() is None
    assert not outage.lost
    again = outage.failed("Unable connect")
    assert again is not None
    assert again.state == "lost"


def test_the_filter_rewrites_the_first_error_as_a_warning_and_drops_the_rest(
    outage: Outage,
) -> None:
    keep = ConnectionErrorFilter(outage, "aiokafka", KAFKA_CONNECTION_ERRORS)
    first = _record("Unable connect to node with id %s: %s", level=logging.ERROR)
    first.args = (1, "[Errno 111] Connect call failed ('127.0.0.1', 9092)")
    assert keep.filter(first)
    assert first.levelname == "WARNING"
    assert first.getMessage().startswith("kafka unreachable: Unable connect to node with id 1")
    assert first.__dict__["outage"] == "lost"
    for message, name in [
        ("Unable to update metadata from [1]", "aiokafka"),
        ("Failed fetch messages from 1: NodeNotReadyError: ...", "aiokafka.consumer.fetcher"),
        ("Got error produce response: KafkaConnectionError: closed", "aiokafka.producer.sender"),
        ("Marking the coordinator dead (node 1)for group g.", "aiokafka.consumer.coordinator"),
    ]:
        assert not keep.filter(_record(message, name, logging.WARNING))


@pytest.mark.parametrize(
    ("name", "level", "message"),
    [
        ("aiokafka.consumer.group_coordinator", logging.INFO, "Joined group 'g' (generation 3)"),
        ("aiokafka", logging.ERROR, "Topic t is not authorized for this client"),
        ("cop.http", logging.ERROR, "Unable connect to node with id 1"),
        ("aiokafkaish", logging.ERROR, "Unable connect to node with id 1"),
    ],
)
def test_other_lines_pass_untouched_even_during_an_outage(
    outage: Outage, name: str, level: int, message: str
) -> None:
    outage.failed("Unable connect")
    keep = ConnectionErrorFilter(outage, "aiokafka", KAFKA_CONNECTION_ERRORS)
    record = _record(message, name, level)
    assert keep.filter(record)
    assert record.getMessage() == message
    assert record.levelno == level


def test_reachable_logs_one_info_line(
    outage: Outage, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cop.dependencies")
    outage.reachable()
    assert caplog.records == []
    outage.failed("Unable connect")
    clock.now += 5
    outage.reachable()
    outage.reachable()
    assert [r.getMessage() for r in caplog.records] == [
        "kafka reachable again after 5 s (0 connection errors suppressed)"
    ]
    assert caplog.records[0].levelno == logging.INFO
    assert caplog.records[0].__dict__["outage"] == "back"
