from pydantic import Field

from shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    service_name: str = "events"
    http_port: int = Field(8081, ge=1, le=65535)
    mongodb_database: str = "cop_events"

    ingest_max_batch: int = Field(1000, ge=1, le=10_000)
    ingest_default_rate_limit_per_minute: int = Field(6000, ge=1)
