"""A stored session scored as QA reads it: shards and rows written by the uploader's own
frame store, the session's dance from the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from benchmarks.capture_qa import store_capture
from cloud.db.engine import make_engine, session_factory, upgrade_database
from cloud.qa.session import QaInputError, assess_session
from cloud.settings import CaptureQaSettings
from cloud.storage.local import LocalStorage
from dancebooth.cli import cli
from edge.synthetic.captures import synthetic_capture


@pytest.fixture
def stored(tmp_path: Path) -> tuple[LocalStorage, sessionmaker[Db]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    engine = make_engine(url)
    return LocalStorage(tmp_path / "store"), session_factory(engine)


def test_a_stored_session_is_scored_per_node_against_its_dance(
    stored: tuple[LocalStorage, sessionmaker[Db]],
) -> None:
    storage, factory = stored
    still = synthetic_capture("still", "disco-steps", 4, duration_s=4.0, jpegs=3)
    along = synthetic_capture("along", "disco-steps", 4, duration_s=4.0, jpegs=3)
    store_capture(storage, factory, "s1", "cam-left", still, dance="disco-steps")
    store_capture(storage, factory, "s1", "cam-right", along)
    report = assess_session(storage, factory, "s1", CaptureQaSettings())
    assert report.dance == "disco-steps"
    assert [n.node for n in report.nodes] == ["cam-left", "cam-right"]
    assert any(r.startswith("cam-left: hardly any movement") for r in report.reasons)
    assert all(n.images is not None and n.images.samples > 0 for n in report.nodes)


def test_a_session_without_frames_or_with_an_unknown_dance_is_refused(
    stored: tuple[LocalStorage, sessionmaker[Db]],
) -> None:
    storage, factory = stored
    with pytest.raises(QaInputError, match="no stored frames"):
        assess_session(storage, factory, "nobody", CaptureQaSettings())
    store_capture(
        storage,
        factory,
        "s2",
        "n",
        synthetic_capture("still", "disco-steps", 1, duration_s=1.0, jpegs=1),
    )
    with pytest.raises(QaInputError, match="no-such-dance"):
        assess_session(storage, factory, "s2", CaptureQaSettings(), default_dance="no-such-dance")


def test_bench_qa_prints_the_time_per_session() -> None:
    result = CliRunner().invoke(cli, ["bench", "qa", "--repeats", "1", "--no-scores"])
    assert result.exit_code == 0, result.output
    assert (
        "machine:" in result.output and "capture QA per 15 s session (450 frames" in result.output
    )
    bad = CliRunner().invoke(cli, ["bench", "qa", "--repeats", "0"])
    assert bad.exit_code != 0 and "at least 1" in bad.output
