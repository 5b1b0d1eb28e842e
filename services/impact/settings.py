from pydantic import Field

from shared.settings import ServiceSettings


class ImpactSettings(ServiceSettings):
    service_name: str = "impact"
    http_port: int = Field(8085, ge=1, le=65535)
    mongodb_database: str = "cop_impact"

    production_environments: list[str] = Field(
        default_factory=lambda: ["production", "prod"],
        min_length=1,
        description="the CDEvents environment ids that are production (JSON list)",
    )
    wait_timeout_s: float = Field(
        10.0, gt=0, description="how long a command with `wait=true` waits for its effect"
    )
