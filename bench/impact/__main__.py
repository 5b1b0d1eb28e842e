"""`python -m bench.impact`: the benchmark on its own."""

import asyncio
import sys
from typing import Any

from bench import impact
from bench.harness import delete_groups, delete_topics, provide_infra, sizes_of, sizes_parser
from bench.impact import ImpactSizes, bench_impact
from bench.report import write_section

TITLE = "Impact: a year of CI/CD events ingested and projected, the teams' figures"


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    defaults = ImpactSizes.quick() if quick else ImpactSizes.from_env()
    parser = sizes_parser(
        impact,
        defaults,
        events="CI/CD events, about",
        requests="per endpoint (the association: a tenth)",
        budget_s="seconds per endpoint",
        batch="events per POST /ingest",
    )
    parser.add_argument("--quick", action="store_true", help="10 teams, about 6,000 events")
    sizes = sizes_of(parser.parse_args(), defaults)

    with provide_infra() as infra:

        async def run() -> dict[str, Any]:
            try:
                return await bench_impact(infra, sizes)
            finally:
                await delete_topics(infra)
                await delete_groups(infra)

        result = asyncio.run(run())
    write_section("impact", TITLE, result)


if __name__ == "__main__":
    main()
