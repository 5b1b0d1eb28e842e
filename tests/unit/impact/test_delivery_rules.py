"""The DORA rules on facts in memory: what a deployment, a failure, a lead time and a restore
time are, for which team and period."""

from datetime import UTC, datetime

from services.impact.domain import periods
from services.impact.domain.delivery import (
    Change,
    CicdWindow,
    Deployment,
    Incident,
    Rollback,
    delivery,
)
from services.impact.domain.ownership import OwnerChange, Owners

PAY = "service/pay"
MARCH, APRIL = periods.parse("2026-03"), periods.parse("2026-04")


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


def deploy(moment: str, artifact: str, service: str = PAY) -> Deployment:
    return Deployment(at(moment), f"d-{moment}", service, artifact)


def window(
    *deployments: Deployment,
    rollbacks: list[Rollback] | None = None,
    incidents: dict[str, Incident] | None = None,
    artifact_changes: dict[str, list[str]] | None = None,
    changes: dict[str, Change] | None = None,
) -> CicdWindow:
    """Facts of service/pay, which payments owns."""
    owners = {PAY: Owners.of([OwnerChange(at("2026-01-01"), at("2026-01-01"), "o", "payments")])}
    return CicdWindow(
        owners=owners,
        deployments=list(deployments),
        rollbacks=rollbacks or [],
        incidents=incidents or {},
        artifact_changes=artifact_changes or {},
        changes=changes or {},
    )


def test_deployments_and_their_days_in_the_period() -> None:
    w = window(
        deploy("2026-03-02T09:00", "a1"),
        deploy("2026-03-02T15:00", "a2"),
        deploy("2026-03-20T10:00", "a3"),
        deploy("2026-04-01T00:00", "a4"),
    )
    dora, _ = delivery(w, "payments", MARCH)
    assert (dora.deployments, dora.deployment_days) == (3, 2)
    assert dora.change_failure_rate == 0.0


def test_a_rollback_fails_the_latest_deployment_before_it_in_that_deployments_period() -> None:
    first, second = deploy("2026-03-30T10:00", "a1"), deploy("2026-04-02T10:00", "a2")
    w = window(first, second, rollbacks=[Rollback(at("2026-03-31T08:00"), "r", PAY)])
    march, _ = delivery(w, "payments", MARCH)
    april, _ = delivery(w, "payments", APRIL)
    assert march.change_failure_rate == 1.0
    assert april.change_failure_rate == 0.0


def test_an_incident_without_artifact_fails_the_latest_deployment_of_its_service() -> None:
    w = window(
        deploy("2026-03-01T10:00", "a1"),
        deploy("2026-03-05T10:00", "a2"),
        deploy("2026-03-09T10:00", "a3"),
        incidents={"i": Incident("i", at("2026-03-06T00:00"), PAY, None)},
    )
    dora, _ = delivery(w, "payments", MARCH)
    assert dora.change_failure_rate == round(1 / 3, 4)


def test_an_incident_naming_an_artifact_fails_every_deployment_of_it() -> None:
    w = window(
        deploy("2026-03-01T10:00", "a1"),
        deploy("2026-03-05T10:00", "a1"),  # a redeploy of the same artifact
        deploy("2026-03-09T10:00", "a2"),
        incidents={"i": Incident("i", at("2026-03-20T00:00"), PAY, "a1")},
    )
    dora, _ = delivery(w, "payments", MARCH)
    assert dora.change_failure_rate == round(2 / 3, 4)


def test_lead_time_runs_from_merge_to_the_first_production_deployment() -> None:
    first = deploy("2026-03-03T12:00", "a1")
    w = window(
        first,
        deploy("2026-03-04T12:00", "a1"),
        deploy("2026-03-05T12:00", "a2"),
        deploy("2026-03-06T12:00", "a3"),
        artifact_changes={"a1": ["c1"], "a2": ["c2"], "a3": ["c3"]},
        changes={
            "c1": Change("c1", at("2026-03-02T12:00"), first),  # 24 h
            "c2": Change("c2", None, deploy("2026-03-05T12:00", "a2")),  # no merge
            "c3": Change("c3", at("2026-03-07T00:00"), deploy("2026-03-06T12:00", "a3")),
        },
    )
    dora, gaps = delivery(w, "payments", MARCH)
    assert dora.lead_time_median_h == 24.0
    assert (gaps.changes_without_merge, gaps.negative_lead_times) == (1, 1)
    assert gaps.deployments_without_change == 0


def test_restore_time_and_open_incidents_of_the_team() -> None:
    w = window(
        incidents={
            "i1": Incident("i1", at("2026-03-01T00:00"), PAY, None, at("2026-03-01T03:00")),
            "i2": Incident("i2", at("2026-03-02T00:00"), PAY, None, at("2026-03-02T05:00")),
            "i3": Incident("i3", at("2026-03-03T00:00"), PAY, None),
            "i4": Incident("i4", at("2026-03-03T00:00"), "service/other", None),
        }
    )
    dora, _ = delivery(w, "payments", MARCH)
    assert (dora.restore_median_h, dora.open_incidents) == (4.0, 1)


def test_a_later_owner_gets_the_deployments_from_its_time() -> None:
    w = window(deploy("2026-03-02T09:00", "a1"), deploy("2026-03-20T09:00", "a2"))
    w.owners[PAY] = Owners.of(
        [
            OwnerChange(at("2026-03-10T00:00"), at("2026-03-10T00:00"), "o1", "payments"),
            OwnerChange(at("2026-03-15T00:00"), at("2026-03-15T00:00"), "o2", "search"),
        ]
    )
    assert delivery(w, "payments", MARCH)[0].deployments == 1
    assert delivery(w, "search", MARCH)[0].deployments == 1
