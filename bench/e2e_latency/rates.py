"""Which rates are run: the plan's, then a search for the highest rate held (bisection between the
highest held and the lowest failed, or upward when every rate held), within a time budget."""

import math
from dataclasses import dataclass

from bench.e2e_latency.load import KudosLoad
from bench.e2e_latency.window import Watch, Window, run_window, settle
from bench.sink_server import now


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...]
    window_s: float
    search_window_s: float
    search_steps: int
    drain_s: float
    budget_s: float  # search steps are left out rather than run past it

    @classmethod
    def of(cls, quick: bool) -> "Plan":
        if quick:
            return cls((50, 200), 8.0, 5.0, 1, 5.0, 40.0)
        return cls((50, 200, 500), 60.0, 15.0, 3, 20.0, 300.0)


class Measurement:
    """The rates of the plan, then the search for the highest rate held, within a budget."""

    def __init__(self, load: KudosLoad, watch: Watch, plan: Plan) -> None:
        self.load, self.watch, self.plan = load, watch, plan
        self.deadline = now() + plan.budget_s
        self.windows: dict[float, Window] = {}
        self.steps: list[Window] = []
        self.highest = 0.0

    def _drain_s(self) -> float:
        return max(2.0, min(self.plan.drain_s, self.deadline - now()))

    async def _window(self, rate: float, duration_s: float) -> Window:
        w = await run_window(self.load, self.watch, rate, duration_s, self._drain_s())
        if not w.verdict()[0]:
            await settle(self.watch, self._drain_s())
        return w

    async def run(self) -> None:
        searched = False
        for rate in self.plan.rates:
            w = self.windows[rate] = await self._window(rate, self.plan.window_s)
            if not w.verdict()[0] and not searched:
                # Search below the first failure now, while the system is otherwise idle; the
                # plan's higher rates follow.
                searched = True
                held = [r for r, x in self.windows.items() if x.verdict()[0]]
                await self._search(max(held, default=0.0), rate)
        if not searched:
            await self._search(float(max(self.plan.rates)), math.inf)

    async def _search(self, low: float, high: float) -> None:
        self.highest = low
        for _ in range(self.plan.search_steps):
            if self.deadline - now() < self.plan.search_window_s + 5:
                break
            if math.isinf(high):
                rate = low * 1.5
            elif high - low <= max(5.0, 0.1 * high):
                break
            else:
                rate = (low + high) / 2
            rate = float(max(round(rate / 5) * 5, 5))
            if rate in (low, high):
                break
            w = await self._window(rate, self.plan.search_window_s)
            self.steps.append(w)
            if w.verdict()[0]:
                low = self.highest = rate
            else:
                high = rate
