"""The one shape every benchmark section returns, the Markdown it becomes, and the machine facts.

A section is a dict:

    {"title": str,
     "rows": [{"metric": str, "value": ..., "unit": str, "min": ..., "max": ..., "runs": n}],
     "goals": [{"goal": str, "measured": str, "met": bool, "why": str}],
     "rss": {service: {"idle_mb": ..., "after_mb": ...}},
     "notes": [str]}

Only `rows` is required; `min`, `max` and `runs` are given for figures that are the median of
repeats. A plain `{name: value}` dict (the older benchmarks) is rendered as rows as it is.

Every result is written under `bench-results/` (`OUT`).
"""

import asyncio
import importlib.metadata
import json
import os
import platform
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # psutil ships no type hints

from bench.targets import summary

OUT = Path(__file__).resolve().parent.parent / "bench-results"

LIBRARIES = (
    "aiokafka",
    "faststream",
    "pymongo",
    "redis",
    "fastapi",
    "uvicorn",
    "pydantic",
    "opentelemetry-sdk",
    "httpx",
)


def figure(metric: str, samples: Sequence[float], unit: str, *, digits: int = 0) -> dict[str, Any]:
    """The median of the samples, with their min, max and count."""

    def rounded(x: float) -> float | int:
        return round(x) if digits == 0 else round(x, digits)

    return {
        "metric": metric,
        "value": rounded(statistics.median(samples)),
        "unit": unit,
        "min": rounded(min(samples)),
        "max": rounded(max(samples)),
        "runs": len(samples),
    }


def row(metric: str, value: Any, unit: str = "") -> dict[str, Any]:
    return {"metric": metric, "value": value, "unit": unit}


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; fine for the sample sizes here."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def as_section(title: str, result: dict[str, Any]) -> dict[str, Any]:
    """A section as it is, or a `{name: value}` row made into rows (its `goals`, when it has
    them, kept as the section's goals)."""
    if "rows" in result:
        return {"title": title, **result}
    values = {k: v for k, v in result.items() if k != "goals"}
    return {
        "title": title,
        "rows": [row(k, v) for k, v in values.items()],
        "goals": result.get("goals", []),
    }


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _goal_table(goals: list[dict[str, Any]]) -> list[str]:
    lines = ["| goal | measured | met | why |", "|---|---|---|---|"]
    lines += [
        f"| {_cell(g['goal'])} | {_cell(g['measured'])} "
        f"| {'not measured' if g['met'] is None else _cell(bool(g['met']))} "
        f"| {_cell(g.get('why', ''))} |"
        for g in goals
    ]
    return [*lines, ""]


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# CoP Platform benchmarks",
        "",
        f"{results['when']} · {results['mode']} · repeats {results['repeats']} · "
        f"wall time {results.get('wall_s', '?')} s"
        + (" · PARTIAL (the run was interrupted)" if results.get("partial") else ""),
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"{m['os']}, Python {m['python']}",
        "",
        f"Kafka {results['versions'].get('kafka')}; {results['versions'].get('mongodb')}; "
        f"Redis {results['versions'].get('redis')}",
        "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in results["versions"]["libraries"].items()),
        "",
        "Every figure with a range is the median of its runs (min-max, runs).",
        "",
    ]
    targets = summary(results["sections"])
    met = sum(1 for g in targets if g["met"])
    measured = sum(1 for g in targets if g["met"] is not None)
    lines += [
        "## Targets",
        "",
        f"{met} met of the {measured} this run measured ({len(targets)} defined).",
        "",
        *_goal_table(targets),
    ]
    others = [g for s in results["sections"] for g in s.get("goals", []) if "target" not in g]
    if others:
        lines += ["## Other goals", "", *_goal_table(others)]
    rss = {k: v for s in results["sections"] for k, v in s.get("rss", {}).items()}
    if rss:
        lines += ["## Memory (resident set size)", "", "| process | idle MB | after MB |"]
        lines.append("|---|---|---|")
        lines += [
            f"| {name} | {_cell(v.get('idle_mb', ''))} | {_cell(v.get('after_mb', ''))} |"
            for name, v in rss.items()
        ]
        lines.append("")
    for section in results["sections"]:
        lines += [f"## {section['title']}", ""]
        rows = section.get("rows", [])
        ranged = any("runs" in r for r in rows)
        if ranged:
            lines += ["| metric | value | unit | min-max (runs) |", "|---|---|---|---|"]
        else:
            lines += ["| metric | value | unit |", "|---|---|---|"]
        for r in rows:
            cells = [_cell(r["metric"]), _cell(r["value"]), _cell(r.get("unit", ""))]
            if ranged:
                spread = f"{_cell(r['min'])}-{_cell(r['max'])} ({r['runs']})" if "runs" in r else ""
                cells.append(spread)
            lines.append("| " + " | ".join(cells) + " |")
        for note in section.get("notes", []):
            lines += ["", f"- {note}"]
        lines.append("")
    if results.get("notes"):
        lines += ["## Notes", ""]
        lines += [f"- {n}" for n in results["notes"]]
        lines.append("")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


async def versions(redis_url: str, mongodb: str) -> dict[str, Any]:
    from redis.asyncio import Redis

    from copctl.devstack import kafka

    client = Redis.from_url(redis_url)
    try:
        info = await client.info("server")
        redis_version = str(info.get("redis_version"))
    finally:
        await client.aclose()
    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            libraries[name] = "absent"
    return {
        "kafka": _running_kafka() or f"{kafka.version()} (pinned by the project's stack)",
        "mongodb": mongodb,
        "redis": redis_version,
        "libraries": libraries,
    }


def _running_kafka() -> str | None:
    """The version of the broker running here, from its jars' directory (`libs-<version>`)."""
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if "kafka.Kafka" in cmdline and (found := re.search(r"libs-([0-9][0-9.]*)", cmdline)):
            return f"{found.group(1)} (the running broker's jars)"
    return None


def rss_mb(pid: int) -> float:
    """Resident set size of a process and its children, in MB."""
    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            total += child.memory_info().rss
    except psutil.Error:
        return float("nan")
    return round(float(total) / 2**20, 1)


async def gather_rss(pids: dict[str, int]) -> dict[str, float]:
    return {name: await asyncio.to_thread(rss_mb, pid) for name, pid in pids.items()}


# --- a benchmark run on its own (`python -m bench.<name>`) ---


def write_table(name: str, title: str, row: dict[str, Any], infra: str, mongodb: str) -> None:
    """A result that is one `{metric: value}` row: `<name>.json` (the row under the name in
    words, `recognition health`) and `<name>.md`, which is printed too."""
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "infra": infra,
        "mongodb": mongodb,
        name.replace("_", " "): row,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# {title}", ""]
    lines += [f"{results['when']} on {results['machine']}", ""]
    lines += [f"Infrastructure: {infra}", "", f"MongoDB-protocol server: {mongodb}", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in row.items() if k != "goals"]
    if row.get("goals"):
        lines += ["", *_goal_table(row["goals"])]
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def write_section(name: str, title: str, result: dict[str, Any]) -> None:
    """A section (rows, goals, resident sizes): `<name>.json` and `<name>.md`; the tables are
    printed too."""
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = ["| metric | value | unit |", "|---|---|---|"]
    lines += [f"| {r['metric']} | {r['value']} | {r['unit']} |" for r in result["rows"]]
    lines += ["", "| goal | measured | met | why |", "|---|---|---|---|"]
    lines += [
        f"| {g['goal']} | {g['measured']} | {g['met']} | {g['why']} |" for g in result["goals"]
    ]
    lines += ["", "| service | idle MB | after MB |", "|---|---|---|"]
    lines += [f"| {s} | {v['idle_mb']} | {v['after_mb']} |" for s, v in result["rss"].items()]
    (OUT / f"{name}.md").write_text(f"# {title}\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
