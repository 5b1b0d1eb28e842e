"""`python -m bench.knowledge_search`: the benchmark on its own."""

from bench import knowledge_search
from bench.harness import run_alone, sizes_of, sizes_parser
from bench.knowledge_search import SearchSizes, bench_search


def main() -> None:
    defaults = SearchSizes.from_env()
    parser = sizes_parser(
        knowledge_search,
        defaults,
        queries="timed searches",
        requests="per endpoint",
        budget_s="searches",
        related_budget_s="per artifact endpoint",
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of requests")
    args = parser.parse_args()
    sizes = sizes_of(args, defaults)
    run_alone(
        "knowledge_search",
        "Knowledge: projection, search, artifacts and related artifacts",
        lambda infra: bench_search(infra, sizes, profile=args.profile),
    )


if __name__ == "__main__":
    main()
