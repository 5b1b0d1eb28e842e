from pydantic import Field

from shared.settings import ServiceSettings

DEFAULT_VALUE_TAGS = (
    "collaboration",
    "mentoring",
    "knowledge_sharing",
    "innovation",
    "quality",
    "helpfulness",
    "leadership",
    "facilitation",
)


class RecognitionSettings(ServiceSettings):
    service_name: str = "recognition"
    http_port: int = Field(8083, ge=1, le=65535)
    mongodb_database: str = "cop_recognition"

    kudos_allowance_per_week: int = Field(10, ge=1)
    kudos_value_tags: list[str] = Field(default_factory=lambda: list(DEFAULT_VALUE_TAGS))
