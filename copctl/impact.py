"""`copctl impact import-catalog PATH`: services' owning teams from Backstage catalog files.

Backstage describes each software component in a `catalog-info.yaml` (one or more YAML
documents): `kind: Component`, `metadata.name`, `spec.owner` (`payments`, `group:payments` or
`group:default/payments`). Each component gives its service to its owner through the impact
service (`PUT /services/{id}`, admin scope). The service's id is the component's name, unless
the annotation `cop.platform/service-id` names the id its CI/CD system uses in its CDEvents
(e.g. `service/payments-api`).

Run it again whenever the catalog changes: a service whose owner is unchanged is left alone; a
new owner takes the service from now on (the first owner of a service owns its earlier facts).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from copctl.operator_http import ServiceError, field_errors, transport_failure

CATALOG_FILES = ("catalog-info.yaml", "catalog-info.yml")
SERVICE_ID_ANNOTATION = "cop.platform/service-id"


class ImportAborted(ServiceError):
    """The import cannot go on (the service is unreachable or refuses copctl's token)."""


@dataclass(frozen=True)
class Ownership:
    service_id: str
    team: str
    where: str  # the file and component it comes from


@dataclass
class ImportReport:
    assigned: list[Ownership] = field(default_factory=list)
    unchanged: list[Ownership] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def catalog_files(path: Path) -> list[Path]:
    """The file itself, or every `catalog-info.yaml` under a directory."""
    if path.is_file():
        return [path]
    return sorted(p for name in CATALOG_FILES for p in path.rglob(name) if p.is_file())


def team_of(owner: str) -> str | None:
    """A Backstage entity reference (`[kind:][namespace/]name`) of a group, as a team's name;
    None for another kind of owner (a user owns no team's services)."""
    kind, _, rest = owner.rpartition(":")
    if kind and kind.lower() != "group":
        return None
    return rest.rpartition("/")[2] or None


def _components(text: str) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(text):
        if isinstance(document, dict) and document.get("kind") == "Component":
            yield document


def read_catalog(path: Path) -> tuple[list[Ownership], list[tuple[str, str]]]:
    """The ownerships the catalog files state, and what could not be read (where, why)."""
    found: list[Ownership] = []
    problems: list[tuple[str, str]] = []
    for file in catalog_files(path):
        try:
            components = list(_components(file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            problems.append((str(file), f"cannot read it: {e}"))
            continue
        for component in components:
            metadata = component.get("metadata") or {}
            spec = component.get("spec") or {}
            name = metadata.get("name")
            where = f"{file}: {name or '(no name)'}"
            annotations = metadata.get("annotations") or {}
            service_id = annotations.get(SERVICE_ID_ANNOTATION) or name
            owner = spec.get("owner")
            team = team_of(owner) if isinstance(owner, str) else None
            if not isinstance(service_id, str) or not service_id:
                problems.append((where, "no metadata.name"))
            elif team is None:
                problems.append((where, f"spec.owner {owner!r} is not a group"))
            else:
                found.append(Ownership(service_id, team, where))
    return found, problems


async def import_catalog(client: httpx.AsyncClient, path: Path) -> ImportReport:
    """Give each component's service to its owner, with a client of the impact service that
    carries an admin token."""
    ownerships, problems = read_catalog(path)
    report = ImportReport(failed=problems)
    for ownership in ownerships:
        url = f"/services/{quote(ownership.service_id, safe='/:@')}"
        try:
            # Waiting for each to apply: a run right after this one finds them unchanged.
            response = await client.put(url, params={"wait": "true"}, json={"team": ownership.team})
        except httpx.TransportError as e:
            message = transport_failure(
                "impact service", client.base_url, e, url_option="--url or IMPACT_URL"
            )
            raise ImportAborted(message) from e
        if response.status_code == 401:
            raise ImportAborted("the impact service refused copctl's admin token")
        if response.status_code == 202:
            report.assigned.append(ownership)
        elif response.status_code == 200:
            report.unchanged.append(ownership)
        else:
            report.failed.append((ownership.where, _why(response)))
    return report


def _why(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(problem, dict):
        return f"HTTP {response.status_code}"
    errors = field_errors(problem)
    detail = str(problem.get("detail") or problem.get("title") or response.status_code)
    return "; ".join([detail, *errors]) if errors else detail
