"""Recognition's community health and leaderboards for one large community with a long history.

    python -m bench.recognition_health [--members 500] [--months 24] [--requests 200] [--seed 7]

`make bench` runs it too, with the sizes from `BENCH_HEALTH_MEMBERS`, `BENCH_HEALTH_MONTHS`,
`BENCH_HEALTH_REQUESTS`, `BENCH_HEALTH_BUDGET_S` and `BENCH_HEALTH_SEED` (`--skip-health` leaves
it out); run alone it writes `bench-results/recognition_health.json` and `.md`.

1. A seeded generator writes the history of one community up to today 00:00 UTC: members joining
   over time (a few leave), their teams (`profile_updated`, 10 teams, some move), 2-3 sessions a
   week with 10-60 attendees, feedback, action items, artifacts published, revised and reused,
   and kudos (three eager givers run into the monthly allowance). Attendance shrinks over four
   months of the first year and one month has a single facilitator, so that alerts are due.
   Every event carries the time of its fact. From the same facts the generator computes on its
   own what the contract says each health metric, alert and leaderboard must show.
2. The whole history is produced to the bench's own topics before recognition starts; then the
   app runs in this process with its own consumer group and database. The projection is caught
   up when every consumer group of the bench's namespace has committed the end of every partition
   of the four topics it reads (the service's own judgements, badges and alerts included), seen
   twice a second apart; its rate is records / seconds from the app's start to the first such
   snapshot, and also over the 10-90 % stretch of the committed offsets.
3. The service's answers are compared with the generator's numbers (every metric of every month
   and quarter through `/health` and `/health/trend`, the "previous" block, the leaderboards),
   then each endpoint is timed through the app's HTTP API: `requests` calls, or fewer when
   `budget_s` runs out. A leaderboard's first call after its Redis keys are deleted (a rebuild
   from the ledger) is timed apart, three times per period.

The modules, one job each: `history` generates the facts, `reference` adds them up as the
contract says (on the calendar of `periods`), `run` produces them, starts the app and times its
catching up, `measure` asks the service and compares; `__main__` runs it alone.
"""

from bench.recognition_health.history import HealthSizes
from bench.recognition_health.run import bench_health

__all__ = ["HealthSizes", "bench_health"]
