"""Median ms per operation of a MongoDB-protocol server as its collection grows.

    python -m bench.mongo_servers --uri mongodb://127.0.0.1:27018 --label "mongo-java-server H2"

Start the candidate on a spare port first: `copctl.devstack.mongo.server_command()` gives
mongo-java-server's command line; `deploy/local/ferretdb/README.md` says how to build and run
FerretDB 1.24.2 on SQLite or PostgreSQL for comparison.

For each size (default 10k and 200k documents, filled with `insert_many`) it times, with PyMongo:
find_one by `_id`, update_one by `_id` (`$set` + `$inc`), update_one `{_id, applied: {$ne}}` with
`$push` (the applied-event guard), an upsert of a new `_id`, insert_one, a find by an indexed
secondary field, find `{_id: {$in: [20 ids]}}`, and a `bulk_write` of 100 and 500 `UpdateOne`
statements to one collection under a client-side deadline (does it answer at all?).

An operation is repeated up to `--reps` times but stops after `--budget-s` seconds, so a server
whose operations take seconds is measured with a few samples (the count is reported). Results are
merged into `bench-results/mongo_servers.json` by label and written as a table to
`bench-results/mongo_servers.md`. Point it only at a scratch server: it creates and drops
databases named `bench_mongo_*`.
"""

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import MongoClient, UpdateOne
from pymongo.errors import PyMongoError

from bench.report import OUT

PAYLOAD = "x" * 200

OPERATIONS = (
    "find_one by _id",
    "update_one by _id ($set, $inc)",
    "update_one {_id, applied: {$ne}} $push",
    "upsert of a new _id",
    "insert_one",
    "find by indexed secondary field",
    "find {_id: {$in: [20 ids]}}",
)


def _doc(i: int) -> dict[str, Any]:
    return {
        "_id": f"d{i:07d}",
        "ref": f"r{i:07d}",
        "member": f"m{i % 500}",
        "n": 0,
        "applied": [f"e{i}-0", f"e{i}-1"],
        "payload": PAYLOAD,
    }


def fill(coll: Any, size: int, batch: int = 1000) -> float:
    """insert_many `size` documents; returns documents per second."""
    began = time.perf_counter()
    for start in range(0, size, batch):
        coll.insert_many([_doc(i) for i in range(start, min(size, start + batch))], ordered=False)
    return size / (time.perf_counter() - began)


def timed(op: Callable[[int], Any], reps: int, budget_s: float) -> dict[str, Any]:
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for rep in range(reps):
        began = time.perf_counter()
        op(rep)
        samples.append((time.perf_counter() - began) * 1000)
        if time.perf_counter() > deadline and len(samples) >= 3:
            break
    return {"median_ms": round(statistics.median(samples), 2), "samples": len(samples)}


def answers(db: Any, timeout_s: float = 5.0) -> bool:
    try:
        with pymongo.timeout(timeout_s):
            db.command("ping")
            db["docs"].find_one({"_id": "d0000000"})
        return True
    except PyMongoError:
        return False


def bulk(coll: Any, statements: int, size: int, deadline_s: float) -> dict[str, Any]:
    ids = [f"d{i:07d}" for i in random.sample(range(size), statements)]
    requests = [UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in ids]
    began = time.perf_counter()
    try:
        with pymongo.timeout(deadline_s):
            result = coll.bulk_write(requests, ordered=False)
    except PyMongoError as error:
        return {
            "answered": False,
            "seconds": round(time.perf_counter() - began, 2),
            "error": f"{type(error).__name__}: {str(error)[:120]}",
        }
    return {
        "answered": True,
        "seconds": round(time.perf_counter() - began, 3),
        "modified": result.modified_count,
    }


def measure_size(
    client: MongoClient[dict[str, Any]],
    size: int,
    *,
    reps: int,
    budget_s: float,
    bulk_sizes: list[int],
    bulk_deadline_s: float,
    bulk_only: bool = False,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    db = client[f"bench_mongo_{size}_{run}"]
    coll = db["docs"]
    coll.create_index("ref")
    row: dict[str, Any] = {"insert_many docs/s": round(fill(coll, size))}
    rng = random.Random(size)

    def some_id() -> str:
        return f"d{rng.randrange(size):07d}"

    fresh = iter(range(10**9))
    ops: dict[str, Callable[[int], Any]] = {
        OPERATIONS[0]: lambda _: coll.find_one({"_id": some_id()}),
        OPERATIONS[1]: lambda _: coll.update_one(
            {"_id": some_id()}, {"$set": {"seen": True}, "$inc": {"n": 1}}
        ),
        OPERATIONS[2]: lambda rep: coll.update_one(
            {"_id": some_id(), "applied": {"$ne": f"ev-{run}-{rep}"}},
            {"$push": {"applied": f"ev-{run}-{rep}"}, "$inc": {"n": 1}},
        ),
        OPERATIONS[3]: lambda _: coll.update_one(
            {"_id": f"u-{run}-{next(fresh)}"}, {"$inc": {"n": 1}}, upsert=True
        ),
        OPERATIONS[4]: lambda _: coll.insert_one({"_id": f"i-{run}-{next(fresh)}", "n": 0}),
        OPERATIONS[5]: lambda _: list(coll.find({"ref": f"r{rng.randrange(size):07d}"})),
        OPERATIONS[6]: lambda _: list(coll.find({"_id": {"$in": [some_id() for _ in range(20)]}})),
    }
    for name, op in ({} if bulk_only else ops).items():
        row[name] = timed(op, reps, budget_s)
        print(f"  {size:>7} {name}: {row[name]}", flush=True)
    for statements in bulk_sizes:
        target, note = coll, ""
        if not answers(db):
            # A hung database answers nothing more; bulk size alone decides the deadlock.
            spare = client[f"bench_mongo_bulk_{statements}_{run}"]
            try:
                with pymongo.timeout(bulk_deadline_s):
                    fill(spare["docs"], 1000)
            except PyMongoError:
                row[f"bulk_write {statements} UpdateOne"] = {
                    "answered": False,
                    "seconds": None,
                    "database answers afterwards": False,
                    "note": "not run: no database of this server answers any more",
                }
                continue
            target, note = spare["docs"], "main database hung: measured on a fresh 1k database"
        result = bulk(target, statements, size if not note else 1000, bulk_deadline_s)
        result["database answers afterwards"] = answers(target.database)
        if note:
            result["note"] = note
        row[f"bulk_write {statements} UpdateOne"] = result
        print(f"  {size:>7} bulk_write {statements}: {result}", flush=True)
    if answers(db):
        client.drop_database(db.name)
    return row


def server_name(client: MongoClient[dict[str, Any]]) -> str:
    info = client.admin.command("buildInfo")
    reports = f"reports MongoDB {info.get('version')}"
    if "mongoJavaServerVersion" in info:
        backend = info.get("mongoJavaServerBackend")
        return f"mongo-java-server {info['mongoJavaServerVersion']} ({backend}), {reports}"
    if "ferretdbVersion" in info:
        return f"FerretDB {info['ferretdbVersion']}, {reports}"
    return reports


def write(results: dict[str, Any]) -> None:
    lines = ["# MongoDB-protocol servers: median ms per operation", ""]
    for label, entry in results.items():
        sizes = list(entry["sizes"])
        lines += [f"## {label}", "", f"{entry['server']}; measured {entry['when']}", ""]
        lines += ["| operation | " + " | ".join(f"{int(s):,} docs" for s in sizes) + " |"]
        lines += ["|---|" + "---|" * len(sizes)]
        for op in (*OPERATIONS, "insert_many docs/s"):
            cells = []
            for size in sizes:
                cell = entry["sizes"][size].get(op, "-")
                if isinstance(cell, dict):
                    cells.append(f"{cell['median_ms']} (n={cell['samples']})")
                else:
                    cells.append(str(cell))
            lines.append(f"| {op} | " + " | ".join(cells) + " |")
        bulk_ops = sorted({k for s in sizes for k in entry["sizes"][s] if k.startswith("bulk")})
        for op in bulk_ops:
            cells = []
            for size in sizes:
                cell = entry["sizes"][size].get(op, {})
                if cell.get("answered"):
                    text = f"{cell['seconds']} s"
                elif cell.get("seconds") is None:
                    text = "not run"
                else:
                    text = f"no answer in {cell['seconds']} s"
                if not cell.get("database answers afterwards", True):
                    text += ", database hung"
                if cell.get("note"):
                    text += f" ({cell['note']})"
                cells.append(text)
            lines.append(f"| {op} | " + " | ".join(cells) + " |")
        lines.append("")
    (OUT / "mongo_servers.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--label", help="name of the result (default: what the server reports)")
    parser.add_argument("--sizes", default="10000,200000")
    parser.add_argument("--reps", type=int, default=200, help="most samples per operation")
    parser.add_argument("--budget-s", type=float, default=8.0, help="time per operation")
    parser.add_argument("--bulk-sizes", default="100,500")
    parser.add_argument("--bulk-deadline-s", type=float, default=20.0)
    parser.add_argument("--bulk-only", action="store_true", help="only the bulk writes")
    parser.add_argument(
        "--warmup", type=int, default=2000, help="documents of an unrecorded first round (0: none)"
    )
    args = parser.parse_args()

    client: MongoClient[dict[str, Any]] = MongoClient(args.uri, serverSelectionTimeoutMS=10_000)
    server = server_name(client)
    label = args.label or server
    if args.warmup:  # a JIT-compiled server (mongo-java-server) is slow in its first seconds
        print(f"{label}: warm-up round, not recorded", flush=True)
        measure_size(client, args.warmup, reps=30, budget_s=1.0, bulk_sizes=[], bulk_deadline_s=0)
    sizes = {}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{label}: {size:,} documents", flush=True)
        sizes[str(size)] = measure_size(
            client,
            size,
            reps=args.reps,
            budget_s=args.budget_s,
            bulk_sizes=[int(s) for s in args.bulk_sizes.split(",") if s],
            bulk_deadline_s=args.bulk_deadline_s,
            bulk_only=args.bulk_only,
        )
    client.close()

    OUT.mkdir(exist_ok=True)
    store = OUT / "mongo_servers.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    results[label] = {
        "server": server,
        "uri": args.uri,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": sizes,
    }
    store.write_text(json.dumps(results, indent=2) + "\n")
    write(results)


if __name__ == "__main__":
    main()
