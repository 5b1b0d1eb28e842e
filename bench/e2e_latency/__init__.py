"""End-to-end kudos latency: `POST /kudos` to the chat post received by the webhook sink.

    python -m bench.e2e_latency [--quick] [--repeats 3] [--profile DIR]

Recognition and the notifier run as processes (`copctl.devstack.stack.start_services`) on ports
18181 and 18182, each with its own topic prefix, consumer groups and database; the chat and SMTP
sink (`bench.sink_server`) is a process of its own. Eight communities have a signed webhook
channel on the sink, and 200 recipients have an e-mail address, so each kudos is judged, counted,
e-mailed and posted, as in the README's walkthrough.

Kudos are sent open loop: the i-th at t0 + i / rate whether or not earlier ones were answered, by
rotating givers that each stay within the allowance. A kudos' latency is the time its post
reached the sink minus the time it was due to be sent (so a slow answer cannot hide a queue), and
one still missing when the drain ends counts as infinitely late. Each rate runs `window_s`
seconds, cut into `repeats` consecutive parts whose percentiles give the median reported. A rate
is held when the backlog (answered 202 but not yet posted) does not grow over the second half of
its window, nothing failed and everything arrived; the highest held rate is searched by bisection
between the highest held and the lowest failed rate (or upward when every rate held).

CPU use of every process involved (the services, the sink, this driver, Kafka, MongoDB, Redis)
is read during each window, and with `--profile` the services run under pyinstrument, which
writes where their time went.

The modules, one job each: `load` sends the kudos, `window` runs one rate and what it measured,
`rates` picks the rates (the plan, then the search for the highest held), `run` starts the
services and the sink and runs it all, `results` makes the rows and goals; `__main__` runs it
alone. What it shares with `bench.notifier_delivery` is in `bench.service_processes`.
"""

from bench.e2e_latency.run import bench_e2e

__all__ = ["bench_e2e"]
