"""`python -m bench.recognition_health`: the benchmark on its own."""

from bench import recognition_health
from bench.harness import run_alone, sizes_of, sizes_parser
from bench.recognition_health import HealthSizes, bench_health


def main() -> None:
    defaults = HealthSizes.from_env()
    parser = sizes_parser(
        recognition_health, defaults, requests="per endpoint", budget_s="per endpoint"
    )
    sizes = sizes_of(parser.parse_args(), defaults)
    run_alone(
        "recognition_health",
        "Recognition: community health and leaderboards",
        lambda infra: bench_health(infra, sizes),
    )


if __name__ == "__main__":
    main()
