from typing import Literal

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

    kudos_allowance: int = Field(20, ge=1, description="counted recipients per giver and period")
    kudos_allowance_period: Literal["month", "week"] = "month"
    kudos_value_tags: list[str] = Field(default_factory=lambda: list(DEFAULT_VALUE_TAGS))
    health_evaluation_interval_s: float = Field(
        60.0, gt=0, description="how often ended months are checked for health alerts"
    )
    health_settle_s: float = Field(
        5.0, ge=0, description="how long a month's facts must have been quiet before it is judged"
    )
    health_check_close_interval_s: float = Field(
        15.0, gt=0, description="how often health-check rounds past their closing time are closed"
    )
