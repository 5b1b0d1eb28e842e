"""`python -m bench.e2e_latency`: the benchmark on its own."""

from bench import e2e_latency
from bench.e2e_latency import bench_e2e
from bench.harness import run_services_alone


def main() -> None:
    run_services_alone(bench_e2e, "e2e_latency", "End-to-end kudos latency", e2e_latency.__doc__)


if __name__ == "__main__":
    main()
