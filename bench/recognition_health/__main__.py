"""`python -m bench.recognition_health`: the benchmark on its own."""

import argparse

from bench import recognition_health
from bench.harness import run_alone
from bench.recognition_health import HealthSizes, bench_health


def main() -> None:
    defaults = HealthSizes.from_env()
    description = (recognition_health.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(
        prog="python -m bench.recognition_health", description=description
    )
    parser.add_argument("--members", type=int, default=defaults.members)
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument("--requests", type=int, default=defaults.requests, help="per endpoint")
    parser.add_argument("--budget-s", type=float, default=defaults.budget_s, help="per endpoint")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args()
    sizes = HealthSizes(args.members, args.months, args.requests, args.budget_s, args.seed)
    run_alone(
        "recognition_health",
        "Recognition: community health and leaderboards",
        lambda infra: bench_health(infra, sizes),
    )


if __name__ == "__main__":
    main()
