"""One rate: kudos sent at it for a while, open loop, then drained; what came of each (sent,
answered, posted), the backlog and the consumer lag on the way, CPU use, and the verdict."""

import asyncio
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from bench.e2e_latency.load import KudosLoad, Sent
from bench.service_processes import CpuMeter
from bench.sink_server import Sink, now
from shared.lag import GroupLag


@dataclass
class Window:
    """One rate's kudos and what came of them."""

    rate: float
    planned_s: float
    sent: list[Sent]
    posted: dict[int, float]
    backlog: list[tuple[float, int]]
    lags: list[tuple[float, dict[str, int]]]
    cpu: dict[str, float]
    aborted_after_s: float | None
    drained: bool
    drain_end: float

    @property
    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 202]

    def statuses(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for s in self.sent:
            found[s.status] = found.get(s.status, 0) + 1
        return found

    def latencies_ms(self, sent: Sequence[Sent] | None = None) -> list[float]:
        """Post time minus due time, per accepted kudos; `inf` for one never posted."""
        out = []
        for s in sent if sent is not None else self.accepted:
            if s.status != 202:
                continue
            t = self.posted.get(s.seq)
            out.append((t - s.due) * 1000 if t is not None else math.inf)
        return out

    def missing(self) -> int:
        return sum(1 for s in self.accepted if s.seq not in self.posted)

    def at_least_ms(self, q: float) -> float:
        """A lower bound of the percentile when some kudos never arrived: those count as
        arriving when the drain ended."""
        bound = [((self.posted.get(s.seq) or self.drain_end) - s.due) * 1000 for s in self.accepted]
        return percentile(bound, q)

    def growth_per_s(self) -> float:
        """Slope of the backlog over the second half of the window (least squares)."""
        if len(self.backlog) < 2:
            return 0.0
        t_start, t_end = self.backlog[0][0], self.backlog[-1][0]
        half = [(t, b) for t, b in self.backlog if t >= (t_start + t_end) / 2]
        if len(half) < 3:
            return 0.0
        ts, bs = [t for t, _ in half], [float(b) for _, b in half]
        mt, mb = statistics.fmean(ts), statistics.fmean(bs)
        den = sum((t - mt) ** 2 for t in ts)
        return sum((t - mt) * (b - mb) for t, b in zip(ts, bs, strict=True)) / den if den else 0.0

    def growth_limit(self) -> float:
        return max(2.0, 0.03 * self.rate)

    def verdict(self) -> tuple[bool, str]:
        failed = len(self.sent) - len(self.accepted)
        if self.aborted_after_s is not None:
            return False, f"backlog ran away, stopped after {self.aborted_after_s:.0f} s"
        if failed > 0.01 * max(len(self.sent), 1):
            return False, f"{failed} of {len(self.sent)} requests not accepted {self.statuses()}"
        if not self.drained:
            return False, f"{self.missing()} kudos not posted by the end of the drain"
        growth = self.growth_per_s()
        if growth > self.growth_limit():
            return False, f"backlog grew {growth:.0f}/s over the second half"
        return True, f"backlog growth {growth:.1f}/s"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; `inf` when a neighbour is missing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    if math.isinf(ordered[high]):
        return math.inf
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median_of_parts(window: Window, parts: int, q: float) -> float:
    """The median, over `parts` consecutive slices of the window, of each slice's percentile."""
    accepted = window.accepted
    if parts <= 1 or len(accepted) < parts * 20:
        return percentile(window.latencies_ms(accepted), q)
    first = min(s.due for s in accepted)
    span = max(s.due for s in accepted) - first + 1e-9
    slices: list[list[Sent]] = [[] for _ in range(parts)]
    for s in accepted:
        slices[min(int((s.due - first) / span * parts), parts - 1)].append(s)
    return statistics.median(percentile(window.latencies_ms(part), q) for part in slices)


@dataclass
class Watch:
    """What is watched while a window runs: the sink's posts, the consumer groups' lag, CPU."""

    sink: Sink
    lags: dict[str, GroupLag]
    cpu: CpuMeter
    client: httpx.AsyncClient


async def run_window(
    load: KudosLoad, watch: Watch, rate: float, duration_s: float, drain_s: float
) -> Window:
    """Kudos at `rate` for `duration_s`, open loop; then wait (at most `drain_s`) until all are
    posted. Stops sending early once the backlog is clearly running away."""
    n = max(int(rate * duration_s), 1)
    first_seq = load.next_seq
    load.next_seq += n
    posts_before, _ = await watch.sink.counts(watch.client)
    items = [Sent(first_seq + i, 0.0) for i in range(n)]
    tasks: list[asyncio.Task[None]] = []
    backlog: list[tuple[float, int]] = []
    lags: list[tuple[float, dict[str, int]]] = []
    runaway = max(100.0, rate * 3)
    aborted: list[float] = []
    done_sending = asyncio.Event()
    t0 = now() + 0.05
    for i, item in enumerate(items):
        item.due = t0 + i / rate

    async def monitor() -> None:
        tick = 0
        while not done_sending.is_set():
            await asyncio.sleep(0.5)
            posts, _ = await watch.sink.counts(watch.client)
            t = now()
            # Everything due by now and not posted: queued in the HTTP server, Kafka or the
            # notifier alike.
            due = min(int((t - t0) * rate) + 1, n)
            backlog.append((t, due - (posts - posts_before)))
            if backlog[-1][1] > runaway and t - t0 > 3:
                aborted.append(t - t0)
                done_sending.set()
            tick += 1
            if tick % 2 == 0:
                lags.append((t, {g: await lag.records_behind() for g, lag in watch.lags.items()}))

    watch.cpu.start()
    watcher = asyncio.create_task(monitor())
    try:
        for item in items:
            if done_sending.is_set():
                break
            delay = item.due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(load.send(item)))
    finally:
        done_sending.set()
        await watcher
    cpu = watch.cpu.read()
    await asyncio.gather(*tasks)
    sent = items[: len(tasks)]
    drained = await _drain(watch, sent, posts_before, first_seq, n, now() + drain_s)
    drain_end = now()
    posted = await _posts_of_window(watch, posts_before, first_seq, n)
    return Window(
        rate=rate,
        planned_s=duration_s,
        sent=sent,
        posted=posted,
        backlog=backlog,
        lags=lags,
        cpu=cpu,
        aborted_after_s=aborted[0] if aborted else None,
        drained=drained,
        drain_end=drain_end,
    )


async def _drain(
    watch: Watch, sent: list[Sent], posts_before: int, first_seq: int, n: int, deadline: float
) -> bool:
    """Wait until every accepted kudos of the window is posted, or the deadline; whether all
    were."""
    accepted = sum(1 for s in sent if s.status == 202)
    wanted = {s.seq for s in sent if s.status == 202}
    while True:
        posts, _ = await watch.sink.counts(watch.client)
        # the count is cheap but may include late posts of an earlier rate: then check the posts
        if posts - posts_before >= accepted:
            posted = await _posts_of_window(watch, posts_before, first_seq, n)
            if wanted <= posted.keys():
                return True
        if now() >= deadline:
            return False
        await asyncio.sleep(0.1)


async def _posts_of_window(
    watch: Watch, posts_before: int, first_seq: int, n: int
) -> dict[int, float]:
    """When each kudos of this rate (sequence numbers `first_seq` to `first_seq + n - 1`) was
    posted: late posts of an earlier rate's backlog are not this rate's."""
    posted: dict[int, float] = {}
    for at, _, message in await watch.sink.posts(watch.client, posts_before):
        if isinstance(message, str) and message.startswith("bench kudos "):
            seq = int(message.rsplit(" ", 1)[1])
            if first_seq <= seq < first_seq + n:
                posted.setdefault(seq, at)
    return posted


async def settle(watch: Watch, timeout_s: float) -> None:
    """After a failed window: let the backlog clear (no new post for a second) before the next
    window starts."""
    deadline = now() + timeout_s
    last, steady = -1, 0
    while now() < deadline:
        posts, _ = await watch.sink.counts(watch.client)
        steady = steady + 1 if posts == last else 0
        if steady >= 5:
            return
        last = posts
        await asyncio.sleep(0.2)
