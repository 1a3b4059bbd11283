"""Retention and visitor deletion on SQLite AND PostgreSQL, the local store AND S3: list the
store and the database afterwards; nothing of the visitor remains, others are untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from cloud.api.watch import delete_everything
from cloud.db.engine import session_factory, transaction
from cloud.db.models import Job
from cloud.db.states import SessionState
from cloud.retention import Part, PeriodicSweep, sweep
from cloud.settings import RetentionSettings
from cloud.storage import Storage, StorageError
from cloud.storage.local import LocalStorage
from dancebooth.cli import cli
from protocol.shards import session_prefix
from tests.cloud.retention_data import add_visitor, all_keys, footprint, session_row

POLICY = RetentionSettings(captures_days=30, models_days=30, rendition_grace_days=0)
EMPTY = {
    "objects": [],
    "rows": {n: 0 for n in ("frames", "shards", "manifests", "renditions", "jobs", "dead_letters")},
}


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    from tests.cloud.retention_data import make_storage

    endpoint = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    store = make_storage(request.param, tmp_path, endpoint)
    yield store
    store.close()


def test_deleting_a_visitor_leaves_only_an_anonymised_tombstone(
    engine: Engine, storage: Storage
) -> None:
    add_visitor(engine, storage, "sgone", age_days=1, link_days=29)
    add_visitor(engine, storage, "skept", age_days=1, link_days=29)
    kept = footprint(engine, storage, "skept")
    with transaction(session_factory(engine)) as db:
        removed = delete_everything(db, storage, "sgone")
    assert removed == 8  # 4 shards, 2 model files, the video and its report
    assert footprint(engine, storage, "sgone") == EMPTY
    assert not [k for k in all_keys(storage) if "sgone" in k]
    tomb = session_row(engine, "sgone")
    assert tomb.state is SessionState.DELETED and tomb.email is None and tomb.error is None
    assert tomb.captures_deleted_at and tomb.model_deleted_at and tomb.rendition_deleted_at
    assert footprint(engine, storage, "skept") == kept
    assert session_row(engine, "skept").email == "skept@example.com"


def test_sweep_removes_what_is_due_and_nothing_else(engine: Engine, storage: Storage) -> None:
    add_visitor(engine, storage, "sold", age_days=40, link_days=-10)  # everything is due
    add_visitor(engine, storage, "slink", age_days=5, link_days=-1)  # only the video
    add_visitor(engine, storage, "snew", age_days=1, link_days=29)  # nothing
    fresh = footprint(engine, storage, "snew")
    report = sweep(session_factory(engine), storage, POLICY)
    assert not report.failed
    assert {e.session_id: e.parts for e in report.erased} == {
        "sold": frozenset(Part),
        "slink": frozenset({Part.RENDITION}),
    }
    old = footprint(engine, storage, "sold")
    assert old["objects"] == []
    assert old["rows"] == {**EMPTY["rows"], "jobs": 1, "dead_letters": 1}  # not a deletion request
    row = session_row(engine, "sold")
    assert row.state is SessionState.DELIVERED and row.email == "sold@example.com"
    assert row.captures_deleted_at and row.model_deleted_at and row.rendition_deleted_at
    link = footprint(engine, storage, "slink")
    assert not [k for k in link["objects"] if "/renditions/" in k]
    assert len(link["objects"]) == 6 and link["rows"]["renditions"] == 0
    assert link["rows"]["frames"] == 8 and link["rows"]["shards"] == 4
    stamps = session_row(engine, "slink")
    assert stamps.rendition_deleted_at and not stamps.captures_deleted_at
    assert footprint(engine, storage, "snew") == fresh
    again = sweep(session_factory(engine), storage, POLICY)
    assert again.erased == [] and again.failed == {}


def test_a_file_stored_after_the_deletion_is_swept_up(engine: Engine, storage: Storage) -> None:
    add_visitor(engine, storage, "sgone", age_days=1, link_days=29)
    with transaction(session_factory(engine)) as db:
        delete_everything(db, storage, "sgone")
    late = f"{session_prefix('sgone')}model/best.safetensors"
    storage.put(late, b"a worker finished its step after the deletion")
    (erased,) = sweep(session_factory(engine), storage, POLICY).erased
    assert erased.session_id == "sgone" and erased.objects == [late]
    assert footprint(engine, storage, "sgone") == EMPTY
    assert session_row(engine, "sgone").state is SessionState.DELETED


def test_busy_and_deleted_sessions_are_left_alone(engine: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    add_visitor(engine, storage, "strain", age_days=40, link_days=None, state=SessionState.TRAINING)
    before = footprint(engine, storage, "strain")
    assert sweep(session_factory(engine), storage, POLICY).erased == []
    assert footprint(engine, storage, "strain") == before


def test_a_held_video_nobody_approved_goes_with_the_model(engine: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    add_visitor(
        engine, storage, "sheld", age_days=40, link_days=None, state=SessionState.NEEDS_REVIEW
    )
    (erased,) = sweep(session_factory(engine), storage, POLICY).erased
    assert erased.parts == frozenset(Part)
    assert footprint(engine, storage, "sheld")["objects"] == []


def test_dry_run_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    add_visitor(engine, storage, "sold", age_days=40, link_days=-10)
    before = footprint(engine, storage, "sold")
    (plan,) = sweep(session_factory(engine), storage, POLICY, dry_run=True).erased
    assert plan.objects == before["objects"] and plan.rows["frames"] == 8
    assert footprint(engine, storage, "sold") == before
    assert session_row(engine, "sold").captures_deleted_at is None


class FlakyStorage(LocalStorage):
    """A local store whose delete fails once on keys that ``fail_on`` picks."""

    def __init__(self, root: Path, fail_on: Callable[[str], bool]) -> None:
        super().__init__(root)
        self.fail_on, self.failed = fail_on, set[str]()

    def delete(self, key: str) -> None:
        if self.fail_on(key) and key not in self.failed:
            self.failed.add(key)
            raise StorageError(f"the store refused to delete {key}")
        super().delete(key)


def test_an_interrupted_sweep_finishes_when_run_again(engine: Engine, tmp_path: Path) -> None:
    storage = FlakyStorage(tmp_path / "store", lambda key: key.endswith("n2/shard-000001.tar"))
    add_visitor(engine, storage, "sa", age_days=40, link_days=-10)
    add_visitor(engine, storage, "sb", age_days=40, link_days=-10)
    first = sweep(session_factory(engine), storage, POLICY)
    assert set(first.failed) == {"sa", "sb"} and first.erased == []
    assert "refused" in first.failed["sa"]
    half = footprint(engine, storage, "sa")
    assert 0 < len(half["objects"]) < 8 and half["rows"]["frames"] == 8  # rows say what is left
    assert session_row(engine, "sa").captures_deleted_at is None
    second = sweep(session_factory(engine), storage, POLICY)
    assert not second.failed and {e.session_id for e in second.erased} == {"sa", "sb"}
    for sid in ("sa", "sb"):
        assert footprint(engine, storage, sid)["objects"] == []
        assert session_row(engine, sid).captures_deleted_at is not None


def test_visitor_deletion_interrupted_by_the_store_can_be_repeated(
    engine: Engine, tmp_path: Path
) -> None:
    storage = FlakyStorage(tmp_path / "store", lambda key: key.endswith("model/metrics.json"))
    add_visitor(engine, storage, "sgone", age_days=1, link_days=29)
    with pytest.raises(StorageError), transaction(session_factory(engine)) as db:
        delete_everything(db, storage, "sgone")
    assert session_row(engine, "sgone").email == "sgone@example.com"  # rolled back: retry
    with transaction(session_factory(engine)) as db:
        delete_everything(db, storage, "sgone")
    assert footprint(engine, storage, "sgone") == EMPTY


def test_periodic_sweep_runs_at_most_once_per_interval(engine: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    add_visitor(engine, storage, "sold", age_days=40, link_days=-10)
    factory = session_factory(engine)
    assert (
        PeriodicSweep(factory, storage, POLICY.model_copy(update={"sweep_every_s": 0})).run_if_due()
        is None
    )
    periodic = PeriodicSweep(factory, storage, POLICY.model_copy(update={"sweep_every_s": 3600}))
    first = periodic.run_if_due()
    assert first is not None and [e.session_id for e in first.erased] == ["sold"]
    assert periodic.run_if_due() is None  # not due again for an hour
    periodic()  # the worker's idle hook
    with factory() as db:
        assert db.get(Job, 1) is not None  # retention keeps the job history; deletion does not


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_prints_what_it_removes(db_url: str, engine: Engine, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    add_visitor(engine, storage, "sold", age_days=40, link_days=-10)
    env = {
        "DANCEBOOTH_CLOUD_DATABASE__URL": db_url,
        "DANCEBOOTH_CLOUD_STORAGE__TYPE": "local",
        "DANCEBOOTH_CLOUD_STORAGE__ROOT": str(tmp_path / "store"),
    }
    dry = CliRunner().invoke(cli, ["cloud", "retention", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "sold: would remove captures, model, rendition: 8 objects" in dry.output
    assert f"{session_prefix('sold')}model/best.safetensors" in dry.output
    assert len(list(storage.list_keys(session_prefix("sold")))) == 8
    real = CliRunner().invoke(cli, ["cloud", "retention"], env=env)
    assert real.exit_code == 0, real.output
    assert "1 sessions removed, 0 to retry" in real.output
    assert list(storage.list_keys(session_prefix("sold"))) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_loop_keeps_sweeping_until_stopped(db_url: str, engine: Engine, tmp_path: Path) -> None:
    """``--every``: what compose runs, since workers (the other sweepers) scale to zero."""
    storage = LocalStorage(tmp_path / "store")
    add_visitor(engine, storage, "sold", age_days=40, link_days=-10)
    env = {
        **os.environ,
        "DANCEBOOTH_CLOUD_DATABASE__URL": db_url,
        "DANCEBOOTH_CLOUD_STORAGE__TYPE": "local",
        "DANCEBOOTH_CLOUD_STORAGE__ROOT": str(tmp_path / "store"),
    }
    argv = [sys.executable, "-m", "dancebooth", "cloud", "retention", "--every", "1"]
    loop = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_gone(storage, "sold")
        add_visitor(engine, storage, "slater", age_days=40, link_days=-10)  # due after start
        _wait_gone(storage, "slater")
        assert loop.poll() is None  # still running
        loop.send_signal(signal.SIGTERM)
        assert loop.wait(15) == 0
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
    assert loop.stdout is not None
    assert "retention: sweeping every 1 s" in loop.stdout.read().decode()


def _wait_gone(storage: Storage, sid: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while list(storage.list_keys(session_prefix(sid))):
        assert time.monotonic() < deadline, f"{sid} was not swept within {timeout:.0f} s"
        time.sleep(0.2)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_dead_letters_expire(engine: Engine, tmp_path: Path) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from cloud.db.models import DeadLetter, utcnow

    factory = session_factory(engine)
    now = utcnow()
    with transaction(factory) as db:
        for age_days in (20, 1):
            db.add(
                DeadLetter(
                    topic=f"t{age_days}",
                    reason="bad",
                    size=3,
                    sha256="0" * 64,
                    payload=b"jpg",
                    received_at=now - timedelta(days=age_days),
                )
            )
    policy = POLICY.model_copy(update={"dead_letters_days": 14})
    storage = LocalStorage(tmp_path / "store")
    assert sweep(factory, storage, policy, dry_run=True).dead_letters == 1
    assert sweep(factory, storage, policy).dead_letters == 1
    with factory() as db:
        assert db.scalars(select(DeadLetter.topic)).all() == ["t1"]
