"""Asking the service: the timed searches, the checks of their answers, an artifact and its related
artifacts, a search right after each of a few writes; the search index's size; a profile of
requests."""

import asyncio
import cProfile
import io
import pstats
import random
import statistics
import time
from collections import Counter
from typing import Any

import httpx

from bench.harness import BenchInfra, Checks, Latency, produce_events
from bench.knowledge_search.library import Library, SearchSizes
from bench.knowledge_search.questions import Query, admits, get, queries, search_path
from bench.targets import TARGETS
from services.knowledge.entrypoints.search_feed import SearchFeed
from shared.lag import GroupLag

TITLE_PROBES = 40
RETIRED_PROBES = 10
REVISION_PROBES = 15
PAGING_PROBES = 5
AFTER_WRITE_PROBES = 8


COLUMNS = "ms p50 / p95 / p99 (requests)"


class Asking:
    """One service, one library: the sizes, the seeded order of the probes, the checks."""

    def __init__(self, client: httpx.AsyncClient, library: Library, sizes: SearchSizes) -> None:
        self.client, self.library, self.sizes = client, library, sizes
        self.rng = random.Random(sizes.seed)
        self.checks = Checks()
        self.alive = [a for a in library.artifacts if not a.retired]
        self.goals: list[dict[str, Any]] = []

    async def ids(self, path: str) -> list[str]:
        """The artifact ids a search answers, in its order."""
        return [i["artifact_id"] for i in (await get(self.client, path))["items"]]


async def measure(
    client: httpx.AsyncClient, library: Library, sizes: SearchSizes
) -> dict[str, Any]:
    asking = Asking(client, library, sizes)
    row: dict[str, Any] = {}
    asked = queries(library, sizes.queries, asking.rng)
    row.update(await timed_searches(asking, asked))
    await paging(asking, asked[:PAGING_PROBES])
    row.update(await title_probes(asking))
    row.update(await retired(asking))
    row.update(await revisions(asking))
    row.update(await artifacts(asking))
    row["time budgets, s: searches; each artifact endpoint"] = (
        f"{sizes.budget_s:g}; {sizes.related_budget_s:g}"
    )
    row["checks passed"] = f"{asking.checks.passed} of {asking.checks.compared}"
    row["first failed checks"] = "; ".join(asking.checks.wrong[:5]) or "none"
    row["goals"] = asking.goals
    return row


async def timed_searches(asking: Asking, asked: list[Query]) -> dict[str, Any]:
    """The timed mix of searches, until the budget is spent; every answer within its filter and
    page."""
    overall, by_label = Latency(), dict[str, Latency]()
    totals: dict[str, list[int]] = {}
    deadline = time.perf_counter() + asking.sizes.budget_s
    for query in asked:
        latency = Latency()
        path = search_path(query.q, **query.filters, page=query.page)
        answer = await get(asking.client, path, latency)
        overall.samples += latency.samples
        for label in query.labels:
            by_label.setdefault(label, Latency()).samples += latency.samples
        totals.setdefault(query.kind, []).append(answer["total"])
        bad = [i["artifact_id"] for i in answer["items"] if not admits(i, query.filters)]
        asking.checks.that(not bad, f"{query}: {len(bad)} items outside the filter")
        asking.checks.that(
            answer["page"] == query.page and len(answer["items"]) <= answer["size"],
            f"{query}: page {answer['page']}, {len(answer['items'])} items",
        )
        if time.perf_counter() > deadline:
            break
    row: dict[str, Any] = {
        f"GET /search, {COLUMNS}": overall.row(),
        "GET /search p95_ms": round(overall.percentile(95), 1),
    }
    asking.goals.append(
        TARGETS["search_p95"].judge(
            overall.percentile(95), detail=f"{len(asking.library.artifacts):,} artifacts"
        )
    )
    for label, latency in sorted(by_label.items()):
        row[f"GET /search {label}, {COLUMNS}"] = latency.row()
    row["search hits per query, median (common / rare / mixed)"] = " / ".join(
        str(round(statistics.median(totals.get(k) or [0]))) for k in ("common", "rare", "mixed")
    )
    return row


async def paging(asking: Asking, asked: list[Query]) -> None:
    """Pages 1-3 of a query do not overlap and keep the order of one big page."""
    for query in asked:
        pages = [await asking.ids(search_path(query.q, page=p)) for p in (1, 2, 3)]
        whole = await asking.ids(search_path(query.q, size=30))
        flat = [a for page in pages for a in page]
        asking.checks.that(flat == whole, f"paging of {query.q}")


async def title_probes(asking: Asking) -> dict[str, Any]:
    """An artifact's exact title finds it in the top 3."""
    titles = Counter(a.title for a in asking.library.artifacts)
    unique = [a for a in asking.alive if titles[a.title] == 1]
    probes = asking.rng.sample(unique, min(TITLE_PROBES, len(unique)))
    top1 = top3 = 0
    latency = Latency()
    for a in probes:
        answer = await get(asking.client, search_path(a.title), latency)
        ids = [i["artifact_id"] for i in answer["items"]]
        top1 += ids[:1] == [a.artifact_id]
        top3 += a.artifact_id in ids[:3]
    asking.checks.that(top3 >= 0.8 * len(probes), f"title hit rate {top3} of {len(probes)}")
    return {
        f"GET /search with an artifact's title (3-9 words), {COLUMNS}": latency.row(),
        "title probes: artifact ranked 1st; in top 3 (hit rate)": (
            f"{top1} of {len(probes)}; {top3} of {len(probes)} ({top3 / max(1, len(probes)):.0%})"
        ),
    }


async def retired(asking: Asking) -> dict[str, Any]:
    """Retired artifacts leave the default search, and stay findable with status=all."""
    gone = [a for a in asking.library.artifacts if a.retired][:RETIRED_PROBES]
    left_out = found = 0
    for a in gone:
        left_out += a.artifact_id not in await asking.ids(search_path(a.title, size=50))
        found += a.artifact_id in await asking.ids(search_path(a.title, status="all", size=50))
    asking.checks.that(left_out == found == len(gone), "retired artifacts in search")
    return {
        "retired: left out of default search; found with status=all": (
            f"{left_out} of {len(gone)}; {found} of {len(gone)}"
        )
    }


async def revisions(asking: Asking) -> dict[str, Any]:
    """A revision's new ticket number finds the artifact, the replaced one no longer does."""
    revised = [a for a in asking.alive if a.new_ticket][:REVISION_PROBES]
    new_hits = old_gone = 0
    for a in revised:
        assert a.new_ticket is not None
        new_hits += a.artifact_id in await asking.ids(search_path(a.new_ticket.split("-")[1]))
        old_gone += a.artifact_id not in await asking.ids(search_path(a.ticket.split("-")[1]))
    asking.checks.that(new_hits == old_gone == len(revised), "revised artifacts in search")
    return {
        "revisions: new words find it; replaced words no longer do": (
            f"{new_hits} of {len(revised)}; {old_gone} of {len(revised)}"
        )
    }


async def artifacts(asking: Asking) -> dict[str, Any]:
    """An artifact rendered as HTML, then its related artifacts, each until its budget is spent."""
    client, checks, sizes = asking.client, asking.checks, asking.sizes
    alive = asking.alive
    picked = [a.artifact_id for a in asking.rng.sample(alive, min(sizes.requests, len(alive)))]
    latency = Latency()
    deadline = time.perf_counter() + sizes.related_budget_s
    for artifact_id in picked:
        doc = await get(client, f"/artifacts/{artifact_id}?format=html", latency)
        checks.that(
            doc.get("artifact_id") == artifact_id and "body_html" in doc,
            f"GET /artifacts/{artifact_id}?format=html",
        )
        if time.perf_counter() > deadline:
            break
    row = {f"GET /artifacts/{{id}}?format=html, {COLUMNS}": latency.row()}
    latency = Latency()
    deadline = time.perf_counter() + sizes.related_budget_s
    for artifact_id in picked:
        related = await get(client, f"/artifacts/{artifact_id}/related", latency)
        checks.that(
            artifact_id not in {r["artifact_id"] for r in related},
            f"related of {artifact_id} lists itself",
        )
        if time.perf_counter() > deadline:
            break
    row[f"GET /artifacts/{{id}}/related, {COLUMNS}"] = latency.row()
    if latency.samples:
        asking.goals.append(TARGETS["related_p95"].judge(latency.percentile(95)))
    return row


async def after_writes(
    client: httpx.AsyncClient,
    infra: BenchInfra,
    prefix: str,
    lag: GroupLag,
    feed: SearchFeed,
    library: Library,
) -> dict[str, Any]:
    """A search right after each of a few one-event batches (a revision), once the projection
    and the search index show it: the first read after a write."""
    rng = random.Random(len(library.artifacts))
    alive = [a for a in library.artifacts if not a.retired]
    words = library.common_words()
    latency, warm, visible = Latency(), Latency(), Latency()
    for a in rng.sample(alive, min(AFTER_WRITE_PROBES, len(alive))):
        await produce_events(infra, prefix, [library.revision_now(a)])
        sent = time.perf_counter()
        deadline = sent + 60
        while time.perf_counter() < deadline:
            if feed.index.shows(a.artifact_id, a.version, "published"):
                break
            await asyncio.sleep(0.005)
        visible.samples.append(time.perf_counter() - sent)
        while time.perf_counter() < deadline:
            if not await lag.records_behind():
                break
            await asyncio.sleep(0.05)
        q = " ".join(rng.sample(words, 2))
        await get(client, search_path(q), latency)
        await get(client, search_path(q), warm)
    return {
        "a revision searchable after, ms p50 / max (produced to indexed)": (
            f"{visible.percentile(50):.0f} / {max(visible.samples, default=0) * 1000:.0f}"
        ),
        "GET /search right after a batch, ms p50 / max (requests)": (
            f"{latency.percentile(50):.1f} / {max(latency.samples, default=0) * 1000:.1f} "
            f"({len(latency.samples)})"
        ),
        "the same search again, ms p50 / max": (
            f"{warm.percentile(50):.1f} / {max(warm.samples, default=0) * 1000:.1f}"
        ),
    }


def index_size(feed: SearchFeed) -> dict[str, Any]:
    """Artifacts in the search index and its size on disk."""
    files = [f for f in feed.index.path.rglob("*") if f.is_file()]
    size = sum(f.stat().st_size for f in files)
    return {
        "search index: artifacts; on disk": (
            f"{feed.index.documents:,}; {size / 1e6:.1f} MB in {len(files)} files"
        )
    }


async def profiled(client: httpx.AsyncClient, library: Library) -> None:
    """cProfile of common-word searches and of related artifacts, printed (top 25, cumulative)."""
    common = library.common_words(6)
    some = [a.artifact_id for a in library.artifacts[:5] if not a.retired]
    for what, paths in (
        ("GET /search (common words)", [search_path(f"{w} {common[0]}") for w in common[1:6]]),
        ("GET /artifacts/{id}/related", [f"/artifacts/{a}/related" for a in some]),
    ):
        profile = cProfile.Profile()
        profile.enable()
        for path in paths:
            await get(client, path)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"--- cProfile: {what}, {len(paths)} requests ---\n{out.getvalue()}")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
        print(f"--- by own time ---\n{out.getvalue()}")
