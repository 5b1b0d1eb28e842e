"""CDEvents as the platform reads them: which types, how they are keyed, what is refused."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.events import cdevents
from shared.events.catalog import spec_for
from shared.events.codec import InvalidEvent, decode, encode
from shared.events.topics import Topic


def deployed(**content: Any) -> dict[str, Any]:
    """A service.deployed CloudEvent in structured mode, as a CI system sends it."""
    return {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "ci/github",
        "type": "dev.cdevents.service.deployed.0.2.0",
        "time": "2026-03-02T10:00:00Z",
        "data": {
            "context": {
                "version": "0.4.1",
                "id": "ev-1",
                "source": "ci/github",
                "type": "dev.cdevents.service.deployed.0.2.0",
                "timestamp": "2026-03-02T10:00:00Z",
            },
            "subject": {
                "id": "service/pay",
                "type": "service",
                "content": {
                    "environment": {"id": "production", "source": "k8s/eu"},
                    "artifactId": "pkg:oci/pay@sha256%3Aabc",
                    **content,
                },
            },
            "customData": {"anything": ["the", "platform", "ignores"]},
        },
    }


@pytest.mark.parametrize(
    "event_type",
    [
        "dev.cdevents.service.deployed.0.1.0",
        "dev.cdevents.service.deployed.0.2.0",
        "dev.cdevents.service.deployed.0.3.12",
        "dev.cdevents.incident.resolved.0.2.0",
    ],
)
def test_any_0x_version_of_a_family_is_known(event_type: str) -> None:
    spec = spec_for(event_type)
    assert spec is not None
    assert spec.topic == Topic.CICD
    assert spec.type == event_type.rsplit(".", 3)[0]


@pytest.mark.parametrize(
    "event_type",
    [
        "dev.cdevents.service.deployed.1.0.0",
        "dev.cdevents.service.deployed",
        "dev.cdevents.service.removed.0.2.0",
        "dev.cdevents.service.deployed.0.2",
        "dev.cdevents.service.deployed.0.02.0",
    ],
)
def test_other_versions_and_families_are_unknown(event_type: str) -> None:
    assert spec_for(event_type) is None


def test_a_family_name_or_any_versioned_type_stands_for_the_family() -> None:
    family = "dev.cdevents.change.merged"
    assert cdevents.family_of(family) == family
    assert cdevents.family_of("dev.cdevents.change.merged.0.2.0") == family
    assert cdevents.family_of("dev.cdevents.change.created.0.2.0") is None


def test_a_cdevent_without_partitionkey_is_keyed_by_its_subject_and_timed_by_its_context() -> None:
    event = deployed()
    del event["time"]
    completed = cdevents.as_received(event)
    assert completed["partitionkey"] == "service/pay"
    assert completed["time"] == "2026-03-02T10:00:00Z"
    decoded = decode(completed)
    assert decoded is not None
    record = encode(decoded.envelope)
    assert (record.topic, record.key) == ("cop.cicd", b"service/pay")


def test_a_partitionkey_the_sender_gives_is_kept() -> None:
    decoded = decode({**deployed(), "partitionkey": "team-payments"})
    assert decoded is not None
    assert encode(decoded.envelope).key == b"team-payments"


def test_a_subject_id_too_long_for_a_key_is_keyed_by_its_hash() -> None:
    long_id = "pkg:oci/pay@sha256%3A" + "a" * 200
    key = cdevents.partition_key(long_id)
    assert key.startswith("sha256:")
    assert len(key) <= cdevents.MAX_KEY_LENGTH
    assert cdevents.partition_key(long_id) == key


def test_the_typed_data_reads_what_the_metrics_need_and_ignores_the_rest() -> None:
    decoded = decode(cdevents.as_received(deployed()))
    assert decoded is not None
    data = decoded.data
    assert isinstance(data, cdevents.ServiceDeployed)
    assert data.subject.content.environment.id == "production"
    assert data.subject.content.artifact_id == "pkg:oci/pay@sha256%3Aabc"
    assert data.at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def errors_of(event: dict[str, Any]) -> set[str]:
    with pytest.raises(InvalidEvent) as refused:
        decode(cdevents.as_received(event))
    return {e.field for e in refused.value.errors}


def test_a_cdevent_without_subject_is_refused_naming_it() -> None:
    event = deployed()
    del event["data"]["subject"]
    assert errors_of(event) == {"data.subject"}


def test_an_environment_that_is_not_an_object_is_refused_naming_it() -> None:
    assert errors_of(deployed(environment="production")) == {"data.subject.content.environment"}


def test_a_deployment_without_artifact_is_refused_naming_it() -> None:
    event = deployed()
    del event["data"]["subject"]["content"]["artifactId"]
    assert errors_of(event) == {"data.subject.content.artifactId"}


def test_times_more_than_a_day_ahead_are_named() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    decoded = decode(cdevents.as_received(deployed()))
    assert decoded is not None
    assert isinstance(decoded.data, cdevents.ServiceDeployed)
    assert cdevents.times_ahead(decoded.attributes.time, decoded.data, now) == [
        ("time", "2026-03-02T10:00:00+00:00 is more than a day ahead of the gateway's clock"),
        (
            "data.context.timestamp",
            "2026-03-02T10:00:00+00:00 is more than a day ahead of the gateway's clock",
        ),
    ]
    assert (
        cdevents.times_ahead(
            decoded.attributes.time, decoded.data, now + timedelta(days=1, hours=10)
        )
        == []
    )
