"""A document as the services store and read it in MongoDB: field names to BSON values."""

from typing import Any

Doc = dict[str, Any]
