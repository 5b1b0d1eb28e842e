"""`python -m bench.knowledge_search`: the benchmark on its own."""

import argparse

from bench import knowledge_search
from bench.harness import run_alone
from bench.knowledge_search import SearchSizes, bench_search


def main() -> None:
    defaults = SearchSizes.from_env()
    description = (knowledge_search.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(
        prog="python -m bench.knowledge_search", description=description
    )
    parser.add_argument("--artifacts", type=int, default=defaults.artifacts)
    parser.add_argument("--queries", type=int, default=defaults.queries, help="timed searches")
    parser.add_argument("--requests", type=int, default=defaults.requests, help="per endpoint")
    parser.add_argument("--budget-s", type=float, default=defaults.budget_s, help="searches")
    parser.add_argument(
        "--related-budget-s",
        type=float,
        default=defaults.related_budget_s,
        help="per artifact endpoint",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of requests")
    args = parser.parse_args()
    sizes = SearchSizes(
        args.artifacts,
        args.queries,
        args.requests,
        args.budget_s,
        args.related_budget_s,
        args.seed,
    )
    run_alone(
        "knowledge_search",
        "Knowledge: projection, search, artifacts and related artifacts",
        lambda infra: bench_search(infra, sizes, profile=args.profile),
    )


if __name__ == "__main__":
    main()
