from pydantic import Field

from shared.settings import ServiceSettings


class KnowledgeSettings(ServiceSettings):
    service_name: str = "knowledge"
    http_port: int = Field(8082, ge=1, le=65535)
    mongodb_database: str = "cop_knowledge"
