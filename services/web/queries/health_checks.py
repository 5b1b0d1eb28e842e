"""What the self-assessment pages show: a community's rounds with the cards-by-rounds matrix,
and one round (its cards to answer while it is open, its results once it has closed). Read
with the viewer's token: recognition answers health checks to signed-in members only."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.web.adapters.upstream import Ok, Refused, Reply, Upstreams
from services.web.domain.health_checks import Matrix, matrix, month_of
from services.web.queries.pages import NotFound, Part, Unavailable, part_of

MATRIX_ROUNDS = 6  # the latest rounds with results shown side by side


@dataclass(frozen=True)
class RoundsPage:
    community_id: str
    community: Part[Mapping[str, Any]]
    rounds: Part[list[Mapping[str, Any]]]
    matrix: Part[Matrix]


@dataclass(frozen=True)
class RoundPage:
    round: Mapping[str, Any]
    community: Part[Mapping[str, Any]]
    mine: Mapping[str, Any] = field(default_factory=dict)  # my answers, by card, while open
    results: Part[Mapping[str, Any]] = field(default_factory=Part)


class HealthCheckQueries:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def rounds(self, community_id: str, token: str) -> RoundsPage:
        community, listed = await asyncio.gather(
            self.up.get("events", f"/communities/{community_id}"),
            self.up.get("recognition", f"/communities/{community_id}/health-checks", token=token),
        )
        if isinstance(community, Refused) and community.status == 404:
            raise NotFound(community_id)
        rounds = part_of(listed, "rounds")
        if not rounds.ok:
            return RoundsPage(
                community_id, part_of(community), rounds, Part(missing=rounds.missing)
            )
        return RoundsPage(
            community_id,
            part_of(community),
            rounds,
            await self._matrix(community_id, rounds.value or [], token),
        )

    async def _matrix(
        self, community_id: str, rounds: list[Mapping[str, Any]], token: str
    ) -> Part[Matrix]:
        closed = [r for r in rounds if r.get("has_results")][:MATRIX_ROUNDS]
        results = await asyncio.gather(
            *(
                self.up.get("recognition", f"/health-checks/{r['round_id']}/results", token=token)
                for r in closed
            )
        )
        failed = next((r for r in results if not isinstance(r, Ok)), None)
        if failed is not None:
            return Part(missing=part_of(failed).missing)
        found = [r.data for r in results if isinstance(r, Ok)]
        months = {r["round_id"]: month_of(r.get("closed_at")) for r in found}
        wanted = sorted({m for m in months.values() if m})
        healths = await asyncio.gather(
            *(
                self.up.get(
                    "recognition", f"/communities/{community_id}/health", params={"period": m}
                )
                for m in wanted
            )
        )
        by_month = {m: _metrics(h) for m, h in zip(wanted, healths, strict=True)}
        behaviour = {rid: by_month.get(m or "", {}) for rid, m in months.items()}
        return Part(matrix(found, behaviour))

    async def round(self, round_id: str, token: str) -> RoundPage:
        found = await self.up.get("recognition", f"/health-checks/{round_id}", token=token)
        if isinstance(found, Refused) and found.status == 404:
            raise NotFound(round_id)
        if not isinstance(found, Ok):
            raise Unavailable(part_of(found).missing)
        held = found.data
        community = part_of(await self.up.get("events", f"/communities/{held['community_id']}"))
        if held["status"] == "open":
            mine = await self.up.get(
                "recognition", f"/health-checks/{round_id}/answers/me", token=token
            )
            answered = mine.data.get("cards", {}) if isinstance(mine, Ok) else {}
            return RoundPage(held, community, mine=answered)
        results = await self.up.get(
            "recognition", f"/health-checks/{round_id}/results", token=token
        )
        return RoundPage(held, community, results=part_of(results))


def _metrics(reply: Reply) -> Mapping[str, Any]:
    if isinstance(reply, Ok) and isinstance(reply.data, dict):
        metrics = reply.data.get("metrics")
        return metrics if isinstance(metrics, dict) else {}
    return {}
