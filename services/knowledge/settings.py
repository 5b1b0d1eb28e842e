import os
from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings


class KnowledgeSettings(ServiceSettings):
    service_name: str = "knowledge"
    http_port: int = Field(8082, ge=1, le=65535)
    mongodb_database: str = "cop_knowledge"
    # Where this replica keeps its search index; each replica needs its own. Empty: under
    # `.local/knowledge-search/` (or `$COP_LOCAL_DIR`), named after the topics, the database
    # and the port, so that replicas and test runs on one machine never share one.
    search_index_dir: str = ""

    def search_index_path(self) -> Path:
        if self.search_index_dir:
            return Path(self.search_index_dir)
        local = Path(os.environ.get("COP_LOCAL_DIR") or ".local")
        name = f"{self.kafka_topic_prefix}{self.mongodb_database}-{self.http_port}"
        return (local / "knowledge-search" / name).resolve()
