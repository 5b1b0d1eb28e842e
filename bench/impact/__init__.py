"""Impact: a year of CI/CD events of an organisation through the gateway into the impact service,
and how fast its teams' figures answer.

    python -m bench.impact [--teams 50] [--months 12] [--events 200000] [--requests 200]
                           [--budget-s 20] [--batch 250] [--seed 24] [--quick]

`python -m bench --impact` (or `make bench IMPACT=1`) runs it with the other benchmarks, with the
sizes from `BENCH_IMPACT_TEAMS`, `BENCH_IMPACT_EVENTS`, ... (QUICK: 10 teams, about 6,000
events); run alone it writes `bench-results/impact.json` and `.md`.

1. A seeded generator writes the year of `teams` teams, each with 2-5 services, up to the start of
   the current month: changes merged (2 % never report their merge), each packaged into an
   artifact, 60 % deployed to staging, 88 % to production (30 % of those as `service.upgraded`,
   5 % deployed a second time), 9 % of production deployments failing (a third rolled back, the
   others an incident naming the artifact, only the service, or neither; 95 % resolved). Some
   teams ship several times more than others; about 3.7 events a change. Beside them, the teams'
   members (4-12 each, a profile with their team) and two sessions a week attended by members of
   every team, some teams keener than others.
2. The events service (the gateway) and the impact service start as processes on free ports in
   the bench's own topics, consumer groups and databases. A CI/CD system is registered with a key
   for the seven CDEvents families, every service is given to its team (`PUT /services/{id}`),
   and the profiles and sessions are produced to their topics; the bench waits until the impact
   projection has applied them.
3. The year is sent in time order through `POST /ingest` in batches of `batch` structured-mode
   CDEvents (no partition key, as a CI system sends them) by four clients at once, while the
   projection's committed offsets are followed. Ingest events/s is events / seconds of sending;
   projection events/s is events / seconds from the first batch until the impact group has
   committed the end of every partition it reads (seen twice, half a second apart). CPU of the
   services, the broker and the MongoDB-protocol server is read meanwhile.
4. One request at a time, each after a few untimed ones: a team's month and quarter
   (`/teams/{team}/impact?period=`) and its trend over the year (`/impact/trend`), for teams and
   periods drawn at random, `requests` each or fewer when `budget_s` runs out, and the
   association of each whole quarter. Every answer's deployments and deployment days are compared
   with the generator's own count. The goal: p95 ≤ 50 ms for the team and trend endpoints.

The modules, one job each: `history` generates the year, `cdevents` makes the facts into what a
CI/CD system sends, `run` starts the services, ingests and times the projection, `measure` asks
the service and checks; `__main__` runs it alone.
"""

from bench.impact.history import ImpactSizes
from bench.impact.run import bench_impact

__all__ = ["ImpactSizes", "bench_impact"]
