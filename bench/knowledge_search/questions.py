"""What the benchmark asks the service: searches of common, rare and mixed words, some filtered,
and what every answer must satisfy."""

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.harness import Latency, get_json
from bench.knowledge_search.library import Library
from bench.knowledge_search.vocabulary import KIND_WEIGHTS, TOPICS
from shared.events.catalog import ArtifactKind

REQUEST_TIMEOUT_S = 120.0


async def get(client: httpx.AsyncClient, path: str, latency: Latency | None = None) -> Any:
    """`GET path`, timed into `latency`; its JSON body (AssertionError unless a 200)."""
    return await get_json(client, path, latency, timeout=REQUEST_TIMEOUT_S)


def search_path(q: str, **params: Any) -> str:
    return "/search?" + urlencode({"q": q, **{k: v for k, v in params.items() if v is not None}})


@dataclass(frozen=True)
class Query:
    kind: str  # common, rare, mixed
    q: str
    filters: dict[str, str]
    page: int

    @property
    def labels(self) -> list[str]:
        found = [f"{self.kind} words", f"page {self.page}"]
        return [*found, f"with a {next(iter(self.filters))} filter"] if self.filters else found


def queries(library: Library, n: int, rng: random.Random) -> list[Query]:
    """1-3 words: common, rare or mixed; two in five with a filter; one in three on page 3."""
    common, rare = library.common_words(), library.rare_words()
    kinds = [k.value for k in KIND_WEIGHTS if k != ArtifactKind.BIBLIOGRAPHY]
    tags = sorted({t for topic in TOPICS for t in topic.tags})
    found = []
    for _ in range(n):
        shape = rng.choice(("common", "common", "rare", "mixed", "mixed"))
        if shape == "common" or not rare:
            words = rng.sample(common, rng.choice((1, 2, 2, 3)))
        elif shape == "rare":
            words = rng.sample(rare, rng.choice((1, 1, 2)))
        else:
            words = [*rng.sample(common, rng.choice((1, 2))), rng.choice(rare)]
        filters: dict[str, str] = {}
        if rng.random() < 0.4:
            which = rng.choice(("kind", "tag", "community"))
            filters[which] = rng.choice(
                {"kind": kinds, "tag": tags, "community": library.communities}[which]
            )
        found.append(Query(shape, " ".join(words), filters, 3 if rng.random() < 1 / 3 else 1))
    return found


def admits(item: dict[str, Any], filters: dict[str, str]) -> bool:
    """Whether a search result is one the query's filters let through."""
    for name, value in filters.items():
        if name == "kind" and item.get("kind") != value:
            return False
        if name == "tag" and value not in item.get("tags", []):
            return False
        if name == "community" and item.get("community_id") != value:
            return False
    return True
