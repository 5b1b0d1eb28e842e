"""What the topic backlog's page shows: a page of the community's topics in the order picked,
the viewer's votes left, and whether the viewer is one of the community's stewards (its
leader or a core member: the page offers them the forms to schedule and decline; the events
service decides all the same). Read with the viewer's token: `voted_by_me` and the budget are
theirs."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.web.adapters.upstream import Ok, Refused, Reply, Upstreams
from services.web.domain.topics import ANY_STATUS
from services.web.queries.pages import NotFound, Part, part_of

TOPICS_PER_PAGE = 30
MEMBERS_READ = 200  # one page of the members list: the roles the steward forms are offered by


@dataclass(frozen=True)
class BacklogPage:
    community_id: str
    community: Part[Mapping[str, Any]]
    topics: Part[Mapping[str, Any]]  # a page: {items, total, page, size}
    votes: Part[Mapping[str, Any]]  # {budget, active, left}
    steward: bool
    status: str
    sort: str
    page: int

    @property
    def has_next(self) -> bool:
        listed = self.topics.value or {}
        return int(listed.get("total", 0)) > self.page * TOPICS_PER_PAGE


class BacklogQueries:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def backlog(
        self, community_id: str, member_id: str, token: str, status: str, sort: str, page: int
    ) -> BacklogPage:
        path = f"/communities/{community_id}"
        params: dict[str, str | int] = {"sort": sort, "page": page, "size": TOPICS_PER_PAGE}
        if status != ANY_STATUS:
            params["status"] = status
        community, topics, votes, members = await asyncio.gather(
            self.up.get("events", path),
            self.up.get("events", f"{path}/topics", params=params, token=token),
            self.up.get("events", f"{path}/votes/me", token=token),
            self.up.get("events", f"{path}/members", params={"size": MEMBERS_READ}),
        )
        if isinstance(community, Refused) and community.status == 404:
            raise NotFound(community_id)
        return BacklogPage(
            community_id=community_id,
            community=part_of(community),
            topics=part_of(topics),
            votes=part_of(votes),
            steward=_steward(member_id, community, members),
            status=status,
            sort=sort,
            page=page,
        )


def _steward(member_id: str, community: Reply, members: Reply) -> bool:
    if isinstance(community, Ok) and community.data.get("leader_id") == member_id:
        return True
    listed = members.data.get("items", []) if isinstance(members, Ok) else []
    return any(m.get("member_id") == member_id and m.get("role") == "core" for m in listed)
