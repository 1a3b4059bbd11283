"""The mirror wears the booth's chosen visitors: real checkpoints fetched from the object
store, a model of the wrong size refused with the reason on the dashboard while the
others run, the rotation, and a deletion taking the visitor off at once — mid-dance, file
and all — with the skeleton as the last resort when nothing else loads."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cloud.booth_models import booth_checkpoint
from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import MirrorStatus, Session, utcnow
from cloud.db.states import SessionState
from cloud.mirror.lineup import Lineup, choose
from cloud.mirror.service import MirrorService, torch_loader
from cloud.render.generator import PosePainter
from cloud.settings import MirrorSettings
from cloud.storage.keys import model_key
from cloud.storage.local import LocalStorage
from protocol.settings import MqttSettings
from tests.cloud.mirror.helpers import live

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _visitor(engine: Engine, storage: LocalStorage, sid: str, model: Path) -> None:
    storage.put(model_key(sid, "best.safetensors"), model.read_bytes())
    with transaction(session_factory(engine)) as db:
        row = ensure_session(db, "booth1", sid, SessionState.DELIVERED)
        row.consent, row.delivered_at = True, utcnow()
        row.mirror_consent_until = utcnow().replace(year=utcnow().year + 1)


def _choose(engine: Engine, ids: list[str]) -> None:
    with transaction(session_factory(engine)) as db:
        choose(db, "booth1", ids)


def _service(engine: Engine, storage: LocalStorage, booth_model: Path) -> MirrorService:
    settings = MirrorSettings(node="node1", resolution=128, model=booth_model, rotate_s=5)
    loader = torch_loader("cpu")
    return MirrorService(
        MqttSettings(port=1),  # never connected: tick() is driven by the test
        settings,
        "booth1",
        loader(booth_model),
        loader=loader,
        lineup=Lineup(session_factory(engine), "booth1", "node1"),
        fetch=storage.get,
    )


def _report(engine: Engine) -> MirrorStatus:
    with session_factory(engine)() as db:
        row = db.get(MirrorStatus, ("booth1", "node1"))
        assert row is not None
        return row


def test_visitors_are_worn_refused_with_the_reason_and_dropped_at_once(
    engine: Engine, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "store")
    booth_model = tmp_path / "booth.safetensors"
    shutil.copy(booth_checkpoint(128), booth_model)
    _visitor(engine, storage, "ana", booth_checkpoint(128))
    _visitor(engine, storage, "big", booth_checkpoint(256))  # made for another mirror size
    service = _service(engine, storage, booth_model)
    booth_version = service.engine.model_version
    try:
        service.tick()
        assert service.wearing_session is None  # nobody chosen: the booth's dancer
        assert _report(engine).session_id is None and _report(engine).error is None

        _choose(engine, ["big", "ana"])
        service.tick()
        assert service.wearing_session == "ana"
        assert "256 px model" in service.refused["big"]
        report = _report(engine)
        assert report.session_id == "ana" and report.error and "256 px" in report.error
        fetched = [p for p, sid in service.visitors.items() if sid == "ana"]
        assert len(fetched) == 1 and fetched[0].is_file()

        # Ana deletes her data while she is on the mirror, mid-dance.
        service.engine.framing.update(live(1))
        assert service.engine.framing.present(live(2).capture_ns)
        with transaction(session_factory(engine)) as db:
            row = db.get(Session, "ana")
            assert row is not None
            row.state = SessionState.DELETED
        service.tick()
        assert service.wearing_session is None
        assert service.engine.model_version == booth_version
        assert not fetched[0].exists()  # her model left the mirror's disk too
        assert list(service.refused) == ["big"]  # still chosen, still refused, not retried
        assert _report(engine).session_id is None
    finally:
        service.stop()


def test_the_lineup_rotates_once_nobody_dances_and_falls_back_to_the_skeleton(
    engine: Engine, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "store")
    booth_model = tmp_path / "booth.safetensors"
    shutil.copy(booth_checkpoint(128), booth_model)
    for sid in ("ana", "cy"):
        _visitor(engine, storage, sid, booth_checkpoint(128))
    service = _service(engine, storage, booth_model)
    try:
        _choose(engine, ["ana", "cy"])
        service.tick()
        assert service.wearing_session == "ana"
        service.playlist._since -= 10  # ana's turn is over
        service.engine.framing.update(live(1))  # ... but somebody is dancing
        service.tick()
        assert service.wearing_session == "ana"
        service.engine.framing.update(live(2, capture_ns=time.time_ns() - 5 * 10**9))  # left
        service.tick()
        assert service.wearing_session == "cy"
        # The booth's own model is gone too when cy deletes her data: the skeleton, never cy.
        booth_model.write_bytes(b"not a checkpoint")
        with transaction(session_factory(engine)) as db:
            for sid in ("ana", "cy"):
                row = db.get(Session, sid)
                assert row is not None
                row.state = SessionState.DELETED
        service.tick()
        assert service.wearing_session is None
        assert service.engine.model_version == PosePainter(128).model_version
        assert service.visitors == {}
    finally:
        service.stop()
