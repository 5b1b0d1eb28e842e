"""The commands a MongoDB client sends, heard through a command listener, and which of them
address documents by anything but `_id` (a scan on mongo-java-server)."""

import threading
from typing import Any

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

# Reading or writing documents: the filter of each must be on `_id` alone.
FILTERED = {"find": "filter", "update": "updates", "delete": "deletes", "findAndModify": "query"}
# Commands that never address documents by `_id`: none may run on a hot path.
SEARCHES = {"count", "aggregate", "distinct", "mapReduce", "createIndexes"}


class Commands(CommandListener):
    """Every command a client starts, as (command name, collection, command)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        with self._lock:
            self.seen.append((event.command_name, str(collection), dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def take(self) -> list[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            seen, self.seen = self.seen, []
        return seen


def by_id(filter_: dict[str, Any]) -> bool:
    if set(filter_) != {"_id"}:
        return False
    value = filter_["_id"]
    return not isinstance(value, dict) or set(value) == {"$in"}


def searches(seen: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """What in `seen` addressed documents by anything but `_id`."""
    found = []
    for name, collection, command in seen:
        if name in SEARCHES:
            found.append(f"{name} on {collection}: {command}")
        elif name == "find" and not by_id(command.get("filter", {})):
            found.append(f"find on {collection}: {command.get('filter')}")
        elif name in ("update", "delete"):
            statements = command.get(FILTERED[name], [])
            found += [f"{name} on {collection}: {s['q']}" for s in statements if not by_id(s["q"])]
        elif name == "findAndModify" and not by_id(command.get("query", {})):
            found.append(f"findAndModify on {collection}: {command.get('query')}")
    return found
