"""Knowledge: the projection's rate and the latency of search, artifacts and related artifacts.

    python -m bench.knowledge_search [--artifacts 10000] [--queries 300] [--requests 200]
                                     [--budget-s 45] [--related-budget-s 20] [--seed 11]
                                     [--profile]

`make bench` runs it too, with the sizes from `BENCH_SEARCH_ARTIFACTS`, `BENCH_SEARCH_QUERIES`,
`BENCH_SEARCH_REQUESTS`, `BENCH_SEARCH_BUDGET_S`, `BENCH_SEARCH_RELATED_BUDGET_S` and
`BENCH_SEARCH_SEED` (`--skip-search` leaves it out); run alone it writes
`bench-results/knowledge_search.json` and `.md`. A quick try: `--artifacts 500`.

1. A seeded generator writes a library: `artifacts` publications of every kind in 5-10
   communities, each with a title, a summary and a Markdown body of a few hundred words drawn
   from an engineering vocabulary (patterns, retrospectives, incident reviews, testing,
   deployment, observability, onboarding, ...) with Zipf-like word frequencies and a tail of rare
   words (system code names, ticket numbers), tags, authors and some links; about 10 % more
   events revise an artifact (a new body, sometimes new tags or title) and about 2 % retire one,
   half of them with a successor. Every event carries the time of its fact, over two years.
2. All of it is produced to the bench's own knowledge topic before the service starts; then the
   knowledge app runs in this process with its own consumer group, database and search index
   directory (a temporary one). Its projection is caught up when the group's lag over the topics
   it reads is 0, its search index when it holds every event the topic had at the start; the
   rate of each is events / seconds from the app's start, and also over stretches of its events
   (10-90 %, and early and late ones, to show whether it slows as it grows).
3. `GET /search` is timed over `queries` queries of 1-3 words (common, rare and mixed words, some
   with a kind, tag or community filter, pages 1 and 3), stopping early when `budget_s` runs out;
   then `GET /artifacts/{id}?format=html` and `GET /artifacts/{id}/related` over `requests`
   artifacts each, each stopping after `related_budget_s`. The answers are checked on the way:
   filters hold, pages do not overlap, an artifact's exact title finds it in the top 3 (the hit
   rate), retired artifacts leave the default search, and a revision's new words find it while
   its old ones do not. The index size is its files on disk.
4. Last, a few single revisions are produced one at a time: how long until the search index
   holds each, and a search timed as soon as the projection shows it too (the first read after
   a write).
   The time the process spends in Python's garbage collector meanwhile is reported too.

The modules, one job each: `vocabulary` holds the words a library is written in, `library`
generates it and knows what a search should find, `questions` are the searches asked and what
their answers must satisfy, `run` produces the library, starts the app and times its catching up,
`measure` asks the service and checks; `__main__` runs it alone.
"""

from bench.knowledge_search.library import SearchSizes
from bench.knowledge_search.run import bench_search

__all__ = ["SearchSizes", "bench_search"]
