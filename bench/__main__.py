"""How fast the platform is against the limit of this machine (`make bench`, `make bench QUICK=1`).

    python -m bench [--quick] [--events N] [--repeats N] [--replay-repeats N]
                    [--services events,knowledge,recognition,notifier] [--scale-out recognition]
                    [--skip-limit] [--skip-ingest] [--skip-projections] [--skip-naive]
                    [--skip-e2e] [--skip-notifier] [--skip-consumer] [--skip-impact]
                    [--health] [--search] [--scaling]

In one run, so that the ratios hold on a noisy machine: (1) the limit, raw aiokafka produce and
consume of CloudEvent-sized records (`bench.limit`); (2) `POST /ingest`, single events,
batches of 100 and batches of 1,000 of one key and of many (`bench.ingest`); (3) each consuming
service's projection live and in replay of the mixed history (`bench.mixed_events`,
`bench.projections`), as a share of (1), with (7) each
service's resident size idle and after its replay and (8) the replay with two replicas;
(4) the consumer a typical FastStream user writes on the same events (`bench.naive`); (5) the
end-to-end latency of a kudos (`bench.e2e_latency`) and (6) the notifier's fan-out
(`bench.notifier_delivery`); (9) the CPU the shared consumer itself costs an event, in process
with handlers that do nothing (`bench.consumer_overhead`). `--health` and `--search` add
recognition's health and knowledge's search benchmarks (`bench.recognition_health`,
`bench.knowledge_search`, smaller in QUICK mode; each runs alone too), `--scaling` adds
`bench.recognition_scaling` (long). (10) A year of CI/CD events of 50 teams (about 200,000; 10
teams and about 6,000 in QUICK) through the gateway into the impact service, and the latency of
the teams' figures (`bench.impact`; `--skip-impact` leaves it out, `BENCH_IMPACT_*` sizes it).
Every figure with a range is the median of repeats.

QUICK (`--quick` or `QUICK=1`): 1,000 events, one run of the expensive parts, three of the cheap
ones. Results: `bench-results/results.json` and `results.md`.
"""

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from bench.consumer_overhead import bench_consumer_overhead
from bench.harness import BenchInfra, delete_groups, delete_topics, mongo_server, provide_infra
from bench.impact import ImpactSizes, bench_impact
from bench.ingest import bench_ingest
from bench.knowledge_search import SearchSizes, bench_search
from bench.limit import bench_limit
from bench.mixed_events import DECISIONS, encode_all, mixed_events, type_counts
from bench.naive import naive_consume
from bench.notifier_delivery import bench_notifier
from bench.projections import CONSUMERS, ServicePlan, bench_projections
from bench.recognition_health import HealthSizes, bench_health
from bench.report import OUT, as_section, figure, machine, render, row, versions
from bench.targets import TARGETS, summary
from services.recognition import rebuild as recognition_rebuild

STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[bench {time.perf_counter() - STARTED:6.0f}s] {message}", file=sys.stderr, flush=True)


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("QUICK") == "1")
    parser.add_argument("--events", type=int, help="mixed events per service (1,000 / 100,000)")
    parser.add_argument("--repeats", type=int, help="runs of the cheap parts (3)")
    parser.add_argument("--replay-repeats", type=int, help="replays per service (1)")
    parser.add_argument("--live", type=int, help="events of the live run per service")
    parser.add_argument("--live-budget", type=float, help="seconds a live run may take")
    parser.add_argument(
        "--partial-replay", type=int, help="events the other services replay (10,000)"
    )
    parser.add_argument("--naive-events", type=int, help="events the naive consumer handles")
    parser.add_argument("--services", default="events,knowledge,recognition,notifier")
    parser.add_argument(
        "--scale-out", help="services replayed with 2 replicas (events; none in QUICK)"
    )
    parser.add_argument(
        "--full-replay",
        default="recognition",
        help="services replayed on all the events; the others on --live events (full mode)",
    )
    parts = (
        "limit",
        "ingest",
        "projections",
        "naive",
        "e2e",
        "notifier",
        "health",
        "search",
        "impact",
    )
    for part in (*parts, "consumer"):
        parser.add_argument(f"--skip-{part}", action="store_true")
    parser.add_argument("--scaling", action="store_true", help="bench.recognition_scaling too")
    parser.add_argument("--health", action="store_true", help="recognition health benchmark too")
    parser.add_argument("--search", action="store_true", help="knowledge search benchmark too")
    args = parser.parse_args(argv)
    quick = args.quick
    args.events = args.events or (1_000 if quick else 100_000)
    args.repeats = args.repeats or 3
    args.replay_repeats = args.replay_repeats or 1
    args.live = min(args.live or (300 if quick else 5_000), args.events)
    args.live_budget = args.live_budget or (6.0 if quick else 30.0)
    args.partial_replay = min(args.partial_replay or 10_000, args.events)
    args.naive_events = min(args.naive_events or (500 if quick else 10_000), args.events)
    if args.scale_out is None:
        args.scale_out = "" if quick else "events"
    # Recognition health and knowledge search are benchmarks of their own (about 7 and 2
    # minutes at full size): asked for with --health / --search, or run alone.
    args.skip_health = args.skip_health or not args.health
    args.skip_search = args.skip_search or not args.search
    return args


HEADER: dict[str, Any] = {}


def save(sections: list[dict[str, Any]], notes: list[str], *, final: bool = False) -> str:
    """Write results.json and results.md; also after each section, so that an interrupted run
    leaves what it measured (marked partial)."""
    results = {
        **HEADER,
        "wall_s": round(time.perf_counter() - STARTED),
        "partial": not final,
        "sections": sections,
        "targets": summary(sections),
        "notes": notes,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    markdown = render(results)
    (OUT / "results.md").write_text(markdown)
    return markdown


async def _section(
    sections: list[dict[str, Any]],
    notes: list[str],
    title: str,
    run: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any] | None:
    """Run one benchmark; a failure is reported in the results instead of ending the run."""
    log(f"{title} ...")
    began = time.perf_counter()
    try:
        result = await run()
    except Exception as e:
        traceback.print_exc()
        notes.append(f"{title}: failed ({type(e).__name__}: {e})")
        return None
    section = as_section(title, result)
    section.setdefault("notes", []).append(f"took {time.perf_counter() - began:.0f} s")
    sections.append(section)
    save(sections, notes)
    log(f"{title}: done in {time.perf_counter() - began:.0f}s")
    return result


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise
    return getattr(found, name, None)


async def run_all(infra: BenchInfra, args: argparse.Namespace) -> dict[str, Any]:
    sections: list[dict[str, Any]] = []
    notes: list[str] = []
    quick, n = args.quick, args.events
    log(f"generating {n:,} mixed events per service")
    # recognition's decisions are about a sixth of the history: 1.2 n events hold n without them
    everything = mixed_events(int(n * 1.2) + 100, seed=1)
    events = everything[:n]
    own = [e for e in everything if e.type not in DECISIONS][:n]
    records = encode_all(events)
    notes.append(
        f"mixed history: {len(events):,} events of {len(type_counts(events))} types "
        f"({len({e.data.get('community_id') for e in events}) - 1} communities, a year); "
        f"recognition reads {len(own):,} of them without its own decisions (kudos judged, "
        "badges, alerts), which it makes itself"
    )
    limit: dict[str, Any] | None = None
    if not args.skip_limit:
        limit_records = records if n >= 20_000 else (records * (20_000 // n + 1))[:20_000]
        limit = await _section(
            sections,
            notes,
            "1. The limit: raw Kafka produce and consume",
            lambda: bench_limit(infra, limit_records, repeats=args.repeats),
        )
    if not args.skip_ingest:
        singles, batches = (100, 3) if quick else (500, 10)
        await _section(
            sections,
            notes,
            "2. Ingest: POST /ingest on the events service",
            lambda: bench_ingest(
                infra, events, singles=singles, batches=batches, repeats=args.repeats
            ),
        )
    projections: dict[str, Any] | None = None
    if not args.skip_projections:
        services = [s for s in args.services.split(",") if s in CONSUMERS]
        full = set(args.full_replay.split(",")) if not quick else set(services)
        plans = []
        for name in services:
            mine = encode_all(own) if name == "recognition" else records
            if name not in full:
                mine = mine[: args.partial_replay]
            plans.append(
                ServicePlan(
                    name,
                    mine,
                    live=min(args.live, len(mine)),
                    repeats=args.replay_repeats,
                    scale_out=name in args.scale_out.split(","),
                    live_budget_s=args.live_budget,
                )
            )
        described = ", ".join(f"{p.name} {len(p.records):,}" for p in plans)
        raw = limit["consume_per_s"] if limit else None
        projections = await _section(
            sections,
            notes,
            f"3, 7, 8. Projections: live and replay ({described} events)",
            lambda: bench_projections(infra, plans, raw_consume_per_s=raw, log=log),
        )
        reduced = [p.name for p in plans if p.name not in full and args.partial_replay < n]
        if reduced:
            notes.append(
                f"{', '.join(reduced)} replayed {args.partial_replay:,} events, not "
                f"{n:,}: replaying every service on {n:,} events (at well under 1,000 events/s "
                "each on 2 cores) does not fit the 15-minute budget; "
                f"{args.full_replay} is replayed on all of them"
            )
        notes.append(
            f"live runs: {args.live:,} events produced at full speed into the running service; "
            f"a service still behind after {args.live_budget:.0f} s is rated on what it had "
            "committed by then"
        )
        if not args.scale_out:
            notes.append("scale-out not measured (QUICK mode; --scale-out recognition adds it)")
        else:
            notes.append(
                f"scale-out (two replicas in one group) measured on {args.scale_out} only, "
                "for the same budget"
            )
    if not args.skip_naive and projections and "recognition" in projections["namespaces"]:
        ours = projections["replay_per_s"]["recognition"]
        ns = projections["namespaces"]["recognition"]
        topics = [str(t) for t in recognition_rebuild.TOPICS]

        async def naive() -> dict[str, Any]:
            result = await naive_consume(infra, ns, topics, args.naive_events)
            theirs = result["steady_per_s"] or result["per_s"]
            speedup = ours / theirs
            rows = [
                row("events handled (recognition's topics)", result["events"]),
                row("naive FastStream consumer, events/s", round(result["per_s"]), "events/s"),
                row("naive, 10-90 % stretch", round(result["steady_per_s"] or 0), "events/s"),
                row("recognition replay, 10-90 % stretch", round(ours), "events/s"),
                row("speed-up over the naive consumer", f"{speedup:.2f}x"),
            ]
            goal = TARGETS["recognition_vs_naive"].judge(
                speedup,
                detail=f"{ours:,.0f} vs {theirs:,.0f} events/s, 10-90 % stretches",
                why="the naive consumer does 2 round trips an event and none of the work "
                "(ledger, rollups, leaderboards, idempotency) recognition does",
            )
            return {
                "rows": rows,
                "goals": [goal],
                "notes": [
                    f"the naive consumer handles the first {result['events']:,} records only "
                    "(its cost per event is flat: two round trips); one find_one + one "
                    "update_one upsert per event, FastStream's default auto-commit"
                ],
            }

        await _section(sections, notes, "4. The naive baseline", naive)
    if not args.skip_e2e:
        bench_e2e = _optional("bench.e2e_latency", "bench_e2e")
        if bench_e2e is None:
            notes.append("5. end-to-end latency: bench.e2e_latency is not there yet")
        else:
            await _section(
                sections,
                notes,
                "5. End-to-end latency: POST /kudos to the chat post",
                lambda: bench_e2e(infra, quick=quick, repeats=args.repeats),
            )
    if not args.skip_notifier:

        async def notifier() -> dict[str, Any]:
            return await bench_notifier(infra, quick=quick, repeats=args.repeats)

        await _section(sections, notes, "6. Notifier fan-out", notifier)
    if not args.skip_health:
        health = HealthSizes(100, 6, 30, 3.0) if quick else HealthSizes.from_env()
        await _section(
            sections,
            notes,
            f"Recognition health ({health.members} members, {health.months} months)",
            lambda: bench_health(infra, health),
        )
    if not args.skip_search:
        if quick:
            search = SearchSizes(1_000, 50, 30, 5.0, 3.0)
        elif any(k.startswith("BENCH_SEARCH_") for k in os.environ):
            search = SearchSizes.from_env()
        else:  # half the standalone default, to keep the whole run within its budget
            search = SearchSizes(5_000, 150, 100, 20.0, 10.0)
        await _section(
            sections,
            notes,
            f"Knowledge search ({search.artifacts:,} artifacts)",
            lambda: bench_search(infra, search),
        )
    if args.skip_health and args.skip_search:
        notes.append(
            "recognition health and knowledge search are left out (add --health, --search, or "
            "run python -m bench.recognition_health / bench.knowledge_search alone)"
        )
    if args.scaling:
        await _scaling_sections(infra, sections, notes)
    await _impact_section(infra, sections, notes, args)
    await _consumer_section(sections, notes, args)
    sections.append(_codec_section())
    return {"sections": sections, "notes": notes}


async def _scaling_sections(
    infra: BenchInfra, sections: list[dict[str, Any]], notes: list[str]
) -> None:
    from bench.recognition_scaling import bench_give_kudos, bench_scaling

    await _section(
        sections,
        notes,
        "Recognition scaling (stored kudos facts)",
        lambda: bench_scaling(infra, [10_000, 200_000]),
    )
    await _section(sections, notes, "POST /kudos", lambda: bench_give_kudos(infra))


async def _impact_section(
    infra: BenchInfra, sections: list[dict[str, Any]], notes: list[str], args: argparse.Namespace
) -> None:
    """A year of CI/CD events through the gateway into the impact service (service processes)."""
    if args.skip_impact:
        return
    sizes = ImpactSizes.quick() if args.quick else ImpactSizes.from_env()
    await _section(
        sections,
        notes,
        f"10. Impact: a year of CI/CD events of {sizes.teams} teams, ingested and projected",
        lambda: bench_impact(infra, sizes),
    )


async def _consumer_section(
    sections: list[dict[str, Any]], notes: list[str], args: argparse.Namespace
) -> None:
    """In process and on CPU only; in a thread, since it runs its own event loops."""
    if args.skip_consumer:
        return
    n = 5_000 if args.quick else 20_000
    await _section(
        sections,
        notes,
        "9. The shared consumer's own cost per event (in process, no-op handlers)",
        lambda: asyncio.to_thread(bench_consumer_overhead, n, args.repeats),
    )


def _codec_section() -> dict[str, Any]:
    from bench.recognition_scaling import bench_codec

    runs = [bench_codec(5_000) for _ in range(3)]
    return {
        "title": "Codec: encode / decode one CloudEvent",
        "rows": [
            figure("encode", [r["encode_per_s"] for r in runs], "events/s"),
            figure("decode", [r["decode_per_s"] for r in runs], "events/s"),
        ],
    }


async def cleanup(infra: BenchInfra) -> None:
    """The bench's topics, consumer groups and Redis keys (databases go with provide_infra)."""
    namespaces = [p.rstrip(".") for p in infra.prefixes]
    with contextlib.suppress(Exception):
        await delete_topics(infra)
    await asyncio.sleep(1.0)  # the groups' offsets go with their topics
    redis = Redis.from_url(infra.redis_url)
    try:
        for ns in namespaces:
            keys = [k async for k in redis.scan_iter(match=f"{ns}*", count=1000)]
            for i in range(0, len(keys), 500):
                await redis.delete(*keys[i : i + 500])
    finally:
        await redis.aclose()
    deleted, refused = await delete_groups(infra)
    log(f"removed {deleted} bench consumer groups" + (f"; refused: {refused}" if refused else ""))


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    mode = "QUICK" if args.quick else "full"
    log(f"{mode} run: {args.events:,} events, repeats {args.repeats}")
    with provide_infra() as infra:
        mongodb = asyncio.run(mongo_server(infra.mongodb_uri))
        HEADER.update(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "mode": mode,
                "events": args.events,
                "repeats": args.repeats,
                "replay_repeats": args.replay_repeats,
                "machine": machine(),
                "versions": asyncio.run(versions(infra.redis_url, mongodb)),
                "infra": infra.origin,
            }
        )
        try:
            results = asyncio.run(run_all(infra, args))
        finally:
            asyncio.run(cleanup(infra))
    print(save(results["sections"], results["notes"], final=True))


if __name__ == "__main__":
    main()
