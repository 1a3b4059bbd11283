"""Deleting everything from an event: plan + code, then erase; through the CLI and the API."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import DeadLetter, Session
from cloud.db.states import SessionState
from cloud.erasure import ErasureError, erase_event, plan_erasure
from cloud.storage import Storage
from cloud.storage.local import LocalStorage
from dancebooth.cli import cli
from protocol.shards import session_prefix
from tests.cloud.retention_data import add_visitor, all_keys, footprint, session_row

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
EVENT = ("s-done", "s-held", "s-training")


def _event(engine: Engine, storage: Storage) -> None:
    """Three visitors of booth1 (one still training) and one of another booth."""
    add_visitor(engine, storage, "s-done", age_days=1, link_days=29)
    add_visitor(
        engine, storage, "s-held", age_days=1, link_days=None, state=SessionState.NEEDS_REVIEW
    )
    add_visitor(
        engine, storage, "s-training", age_days=0, link_days=None, state=SessionState.TRAINING
    )
    storage.put(f"{session_prefix('s-other')}n1/shard-000000.tar", b"another booth's")
    with transaction(session_factory(engine)) as db:
        ensure_booth(db, "booth2")
        db.add(Session(id="s-other", booth_id="booth2", email="o@example.com", consent=True))
        db.add(DeadLetter(topic="dancebooth/booth2/node/n1/status", reason="x", size=1, sha256="1"))
        # refused from a node of this booth, tied to no session
        db.add(DeadLetter(topic="dancebooth/booth1/node/n1/status", reason="x", size=1, sha256="2"))


def _assert_erased(engine: Engine, storage: Storage) -> None:
    for sid in EVENT:
        left = footprint(engine, storage, sid)
        assert left["objects"] == [] and not any(left["rows"].values()), (sid, left)
        row = session_row(engine, sid)
        assert row.state is SessionState.DELETED and row.email is None
    assert [k for k in all_keys(storage)] == [f"{session_prefix('s-other')}n1/shard-000000.tar"]
    assert session_row(engine, "s-other").email == "o@example.com"
    with session_factory(engine)() as db:
        topics = db.scalars(select(DeadLetter.topic)).all()
    assert topics == ["dancebooth/booth2/node/n1/status"]


def test_erase_only_with_the_code_of_the_current_plan(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = LocalStorage(tmp_path / "store")
    _event(engine, storage)
    factory = session_factory(engine)
    with factory() as db:
        plan = plan_erasure(db, "booth1")
    assert plan.sessions == EVENT and plan.busy == ("s-training",) and plan.dead_letters == 4

    with pytest.raises(ErasureError, match="does not match"):
        erase_event(factory, storage, "booth1", "00000000", "alice")
    with pytest.raises(ErasureError, match="type the booth id"):
        erase_event(factory, storage, "booth1", plan.code, "alice", typed="booth2")
    add_visitor(engine, storage, "s-late", age_days=0, link_days=None)  # after the plan
    with pytest.raises(ErasureError, match="4 sessions"):
        erase_event(factory, storage, "booth1", plan.code, "alice")
    assert footprint(engine, storage, "s-done")["objects"], "nothing erased by a refusal"

    with factory() as db:
        plan = plan_erasure(db, "booth1")
    with caplog.at_level(logging.WARNING, logger="cloud.erasure"):
        report = erase_event(factory, storage, "booth1", plan.code, "alice", typed="booth1")
    assert sorted(report.erased) == sorted((*EVENT, "s-late")) and not report.failed
    assert report.dead_letters == 5
    _assert_erased(engine, storage)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "alice is erasing every visitor of booth booth1: 4 sessions" in logged
    assert "alice erased booth booth1: 4 sessions" in logged
    with factory() as db:
        assert plan_erasure(db, "booth1").sessions == ()


def test_cli_asks_first_then_erases(db_url: str, engine: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    _event(engine, storage)
    env = {
        "DANCEBOOTH_CLOUD_DATABASE__URL": db_url,
        "DANCEBOOTH_CLOUD_STORAGE__TYPE": "local",
        "DANCEBOOTH_CLOUD_STORAGE__ROOT": str(tmp_path / "store"),
    }
    runner = CliRunner()
    first = runner.invoke(cli, ["cloud", "erase-event"], env=env)
    assert first.exit_code == 0, first.output
    assert "3 visitor sessions (1 in progress)" in first.output
    code = first.output.split("--confirm ")[1].split()[0]
    assert footprint(engine, storage, "s-done")["objects"], "the first run deletes nothing"
    wrong = runner.invoke(cli, ["cloud", "erase-event", "--confirm", "ffffffff"], env=env)
    assert wrong.exit_code == 1 and "does not match" in wrong.output
    done = runner.invoke(cli, ["cloud", "erase-event", "--confirm", code, "--as", "alice"], env=env)
    assert done.exit_code == 0, done.output
    assert "erased 3 sessions" in done.output
    _assert_erased(engine, storage)
