"""One run: the library produced to the bench's topic, knowledge started on it in this process, its
catching up timed, then its answers checked and timed (`measure`)."""

import asyncio
import gc
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.harness import BenchInfra, produce_events, serving
from bench.knowledge_search.library import Library, SearchSizes
from bench.knowledge_search.measure import after_writes, index_size, measure, profiled
from bench.targets import TARGETS
from services.knowledge.entrypoints.search_feed import SearchFeed
from services.knowledge.settings import KnowledgeSettings
from shared.events.topics import Topic
from shared.lag import GroupLag


async def bench_search(
    infra: BenchInfra, sizes: SearchSizes, *, profile: bool = False
) -> dict[str, Any]:
    """Generate, produce, catch up, time and check; one row of results."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request is noise here
    namespace = infra.namespace()
    began = time.perf_counter()
    library = Library(sizes.artifacts, sizes.seed, namespace.removeprefix("bench"))
    events = library.facts.events()
    generated_s = time.perf_counter() - began
    began = time.perf_counter()
    per_topic = await produce_events(infra, f"{namespace}.", events)
    produced_s = time.perf_counter() - began
    body_words = sum(library.df.values()) / max(1, len(library.artifacts))
    row: dict[str, Any] = {
        "library": f"{len(library.artifacts):,} artifacts in {len(library.communities)} "
        f"communities, {library.revisions:,} revisions, {library.retirements:,} retirements, "
        f"seed {sizes.seed}; {len(library.df):,} distinct words, "
        f"~{body_words:.0f} distinct words per artifact",
        "events produced": f"{len(events):,} ({per_topic.total():,} to the knowledge topic)",
        "generated, produced in s": f"{generated_s:.1f}, {produced_s:.1f}",
    }
    count = len(events)
    del events
    # The generator's objects stay alive in this process, where a service would not hold them:
    # frozen, they do not lengthen the collections that the app's own allocations trigger.
    gc.collect()
    gc.freeze()
    try:
        row.update(
            await serve_and_measure(
                infra, namespace, library, (count, per_topic[Topic.KNOWLEDGE]), sizes, profile
            )
        )
    finally:
        gc.unfreeze()
    return row


async def serve_and_measure(
    infra: BenchInfra,
    namespace: str,
    library: Library,
    counts: tuple[int, int],
    sizes: SearchSizes,
    profile: bool,
) -> dict[str, Any]:
    """Start the app on the produced topics, wait until its projection and its search index
    have caught up, then ask it."""
    from services.knowledge.bootstrap import bootstrap
    from services.knowledge.rebuild import TOPICS as READ

    prefix = f"{namespace}."
    directory = tempfile.mkdtemp(prefix="bench-knowledge-search-")
    settings = infra.settings(KnowledgeSettings, namespace, search_index_dir=directory)
    app = bootstrap(settings)
    feed: SearchFeed = app.state.search_feed
    started = time.perf_counter()
    group = settings.kafka_consumer_group
    lag = GroupLag(infra.kafka_bootstrap_servers, group, [prefix + t for t in READ])
    count, indexed = counts
    timeout_s = max(300.0, count / 20)
    row: dict[str, Any] = {}
    try:
        async with serving(app, settings) as client:
            await lag.start()
            try:
                # Both read the topic at once: the projection (its consumer group) and this
                # replica's search index (its own reading of every partition).
                catch, index_catch = await asyncio.gather(
                    caught_up(lag.records_behind, count, started, timeout_s),
                    caught_up(lambda: _behind(feed, indexed), indexed, started, timeout_s),
                )
                row.update(catchup_rows(catch, "projection"))
                row.update(catchup_rows(index_catch, "search index"))
                indexing = _indexing_goal(index_catch)
                row.update(index_size(feed))
                with GcClock() as collector:
                    row.update(await measure(client, library, sizes))
                    row["goals"] = [indexing, *row.get("goals", [])]
                    row.update(await after_writes(client, infra, prefix, lag, feed, library))
                row["Python GC during the timed requests (app and bench, one process)"] = (
                    collector.row()
                )
            finally:
                await lag.stop()
            if profile:
                await profiled(client, library)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return row


async def _behind(feed: SearchFeed, total: int) -> int:
    """Events of the knowledge topic the search index has not read yet."""
    return 0 if feed.caught_up.is_set() else max(1, total - feed.applied)


@dataclass
class CatchUp:
    seconds: float
    overall: float
    steady: float  # over 10-90 % of the events
    early: float  # over 10-30 %
    late: float  # over 70-90 %
    first_commit_s: float


async def caught_up(
    records_behind: Callable[[], Awaitable[int]], total: int, began: float, timeout_s: float
) -> CatchUp:
    """Polls how far behind a reader is four times a second until it is 0."""
    samples: list[tuple[float, int]] = []
    first_commit = 0.0
    while True:
        behind = await records_behind()
        now = time.perf_counter()
        samples.append((now, total - behind))
        if behind < total and not first_commit:
            first_commit = now - began
        if behind == 0:
            break
        if now - began > timeout_s:
            raise TimeoutError(f"not caught up after {timeout_s:.0f}s: {behind:,} records behind")
        await asyncio.sleep(0.25)

    def rate(low: float, high: float) -> float:
        a = next(s for s in samples if s[1] >= low * total)
        b = next(s for s in samples if s[1] >= high * total)
        return (b[1] - a[1]) / (b[0] - a[0]) if b[0] > a[0] else 0.0

    seconds = samples[-1][0] - began
    return CatchUp(
        seconds,
        total / seconds,
        rate(0.1, 0.9),
        rate(0.1, 0.3),
        rate(0.7, 0.9),
        first_commit,
    )


def _indexing_goal(catch: CatchUp) -> dict[str, Any]:
    why = "the index shares the service's one Python thread with the projection"
    if not catch.steady:  # caught up in one batch: only the whole catch-up has a rate
        detail = "caught up in one batch: events over the catch-up, start-up included"
        return TARGETS["knowledge_indexing"].judge(catch.overall, detail=detail, why=why)
    detail = f"{catch.early:,.0f} at 10-30 %, {catch.late:,.0f} at 70-90 %"
    return TARGETS["knowledge_indexing"].judge(catch.steady, detail=detail, why=why)


def catchup_rows(catch: CatchUp, reader: str) -> dict[str, Any]:
    return {
        f"{reader} caught up in s (from app start; first commit at)": (
            f"{catch.seconds:.1f} ({catch.first_commit_s:.1f})"
        ),
        f"{reader} events/s (events / catch-up time)": round(catch.overall),
        f"{reader} events/s (10-90 % of its events)": round(catch.steady),
        f"{reader} events/s at 10-30 % / 70-90 % (as it grows)": " / ".join(
            f"{r:.0f}" if r else "n/a (one batch)" for r in (catch.early, catch.late)
        ),
    }


class GcClock:
    """Time the interpreter spends in its cyclic garbage collector while in effect."""

    def __init__(self) -> None:
        self.seconds, self._began = 0.0, 0.0
        self.collections: Counter[int] = Counter()

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.collections[info["generation"]] += 1

    def __enter__(self) -> "GcClock":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def row(self) -> str:
        per = ", ".join(f"gen{g} {n}" for g, n in sorted(self.collections.items()))
        return f"{self.seconds:.2f} s in {self.collections.total()} collections ({per})"
