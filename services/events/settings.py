from pydantic import Field

from shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    service_name: str = "events"
    http_port: int = Field(8081, ge=1, le=65535)
    mongodb_database: str = "cop_events"

    ingest_max_batch: int = Field(1000, ge=1, le=10_000)
    # The largest record the broker takes (its `message.max.bytes`, and the producer's
    # `max_request_size`): a larger inbound event is refused as too large, not retried.
    kafka_max_record_bytes: int = Field(1_048_576, ge=16_384, le=100 * 1_048_576)
    ingest_default_rate_limit_per_minute: int = Field(6000, ge=1)
    # A session's feedback summary is shown to anyone from this many feedbacks on; before that
    # only to its facilitator, the community's leader and admins (one feedback is one member's).
    feedback_summary_min_count: int = Field(3, ge=1, le=1000)
    # Votes a member may have on open topics of one community at a time.
    topic_vote_budget: int = Field(5, ge=1, le=100)
