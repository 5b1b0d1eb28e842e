"""`copctl impact import-catalog`: reading Backstage catalog files into service owners."""

from pathlib import Path

from copctl.impact import read_catalog, team_of

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  annotations:
    cop.platform/service-id: service/payments-api
spec:
  type: service
  owner: group:default/payments
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search-indexer
spec:
  owner: search
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: side-project
spec:
  owner: user:jdoe
"""


def test_a_group_reference_in_any_form_is_the_teams_name() -> None:
    assert team_of("payments") == "payments"
    assert team_of("group:payments") == "payments"
    assert team_of("group:default/payments") == "payments"
    assert team_of("user:default/jdoe") is None


def test_each_component_gives_its_service_to_its_owner(tmp_path: Path) -> None:
    (tmp_path / "pay").mkdir()
    (tmp_path / "pay" / "catalog-info.yaml").write_text(CATALOG)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "catalog-info.yaml").write_text("kind: [unclosed")
    (tmp_path / "notes.yaml").write_text("kind: Component\nmetadata: {name: not-a-catalog-file}")

    found, problems = read_catalog(tmp_path)

    assert [(o.service_id, o.team) for o in found] == [
        ("service/payments-api", "payments"),
        ("search-indexer", "search"),
    ]
    assert len(problems) == 2
    (broken, unreadable), (side_project, not_a_team) = sorted(problems)
    assert broken.startswith(str(tmp_path / "broken"))
    assert unreadable.startswith("cannot read it")
    assert side_project.endswith("catalog-info.yaml: side-project")
    assert not_a_team == "spec.owner 'user:jdoe' is not a group"
