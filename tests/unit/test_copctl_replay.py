"""`copctl replay` takes what a service's projection is from the service's own declaration."""

import importlib

import pytest
from typer.testing import CliRunner

from copctl.cli import app
from copctl.replay import REBUILDS
from services.events import rebuild as events_rebuild
from services.events.adapters.projection import APPLIED_EVENTS, PROJECTION_COLLECTIONS
from shared.events.topics import Topic

# State that no topic holds: dropping it would lose API keys, re-send e-mails or reset counts.
NOT_A_PROJECTION = {
    "sources", "inbound_ledger", "deliveries", "waiting_for_address",
    "kudos_allowances", "badges", "alerts",  # recognition's decisions, published once
}  # fmt: skip


def test_the_services_that_keep_a_projection_are_replayable_with_their_own_settings() -> None:
    assert set(REBUILDS) == {"events", "knowledge", "recognition", "notifier", "impact"}
    for service, rebuild in REBUILDS.items():
        assert rebuild.settings().service_name == service


@pytest.mark.parametrize("service", ["events", "knowledge", "recognition", "notifier", "impact"])
def test_a_service_declares_contract_topics_and_drops_only_its_projection(service: str) -> None:
    module = importlib.import_module(f"services.{service}.rebuild")
    assert module.TOPICS
    assert set(module.TOPICS) <= set(Topic)
    assert REBUILDS[service].topics == module.TOPICS
    assert module.COLLECTIONS
    assert not set(module.COLLECTIONS) & NOT_A_PROJECTION


def test_the_events_rebuild_drops_every_projection_collection() -> None:
    assert set(events_rebuild.COLLECTIONS) == {
        *PROJECTION_COLLECTIONS,
        APPLIED_EVENTS,
        *events_rebuild.RETIRED_COLLECTIONS,
    }


def test_an_events_rebuild_drops_the_retired_memberships_collection() -> None:
    assert "memberships" not in PROJECTION_COLLECTIONS
    assert "memberships" in events_rebuild.COLLECTIONS


def test_copctl_replay_refuses_a_service_without_a_projection() -> None:
    result = CliRunner().invoke(app, ["replay", "gateway"])
    assert result.exit_code == 2
    assert "gateway keeps no projection to rebuild" in result.stderr
