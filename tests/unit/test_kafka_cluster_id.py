"""The local Kafka's cluster id never starts with `-`, which the storage tool reads as an option."""

import uuid
from pathlib import Path

import pytest

from copctl.devstack import kafka
from copctl.devstack.processes import Instance


def test_an_id_that_would_start_with_a_dash_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))
    instance = Instance(prefix="idtest-", data_dir=tmp_path)

    chosen = kafka._cluster_id(instance)

    assert chosen == "AQEBAQEBAQEBAQEBAQEBAQ"
    assert kafka._cluster_id(instance) == chosen, "chosen once per data directory"


def test_a_stored_id_starting_with_a_dash_is_replaced(tmp_path: Path) -> None:
    instance = Instance(prefix="idtest-", data_dir=tmp_path)
    stored = kafka._home(instance) / "cluster.id"
    stored.parent.mkdir(parents=True)
    stored.write_text("-AAAAAAAAAAAAAAAAAAAAA")

    assert not kafka._cluster_id(instance).startswith("-")
