"""Deleting everything from this event from the dashboard: the plan, then the typed confirm."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud import node_erasure
from cloud.db.engine import session_factory, transaction
from protocol.messages import EraseAck, EraseResult
from tests.cloud.api.conftest import Booth
from tests.cloud.retention_data import footprint
from tests.cloud.test_erasure import _assert_erased, _event

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_dashboard_plan_then_confirm(booth: Booth, operator: TestClient) -> None:
    _event(booth.engine, booth.storage)
    plan = operator.get("/api/booth/erasure").json()
    assert (plan["sessions"], plan["in_progress"], plan["dead_letters"]) == (3, 1, 4)
    r = operator.post("/api/booth/erasure", json={"code": plan["code"], "booth": "booth 1"})
    assert r.status_code == 409 and "type the booth id" in r.json()["detail"]
    assert footprint(booth.engine, booth.storage, "s-done")["objects"]
    r = operator.post("/api/booth/erasure", json={"code": plan["code"], "booth": "booth1"})
    assert r.status_code == 200, r.text
    assert r.json()["sessions"] == 3 and r.json()["failed"] == {}
    _assert_erased(booth.engine, booth.storage)
    with TestClient(booth.app) as anonymous:
        assert anonymous.get("/api/booth/erasure").status_code == 401


def test_the_dashboard_shows_which_nodes_confirmed_erasing_their_spools(
    booth: Booth, operator: TestClient
) -> None:
    _event(booth.engine, booth.storage)
    plan = operator.get("/api/booth/erasure").json()
    done = operator.post("/api/booth/erasure", json={"code": plan["code"], "booth": "booth1"})
    assert done.json()["nodes"] == {
        "n1": {"pending": 3, "erased": 0, "unknown": 0},
        "n2": {"pending": 3, "erased": 0, "unknown": 0},
    }
    with transaction(session_factory(booth.engine)) as db:
        ack = EraseAck(session="s-done", node="n1", result=EraseResult.ERASED, frames=8, at=1e9)
        node_erasure.record_ack(db, "booth1", ack)
        # asked again after erasing, the node knows nothing: the earlier answer stands
        node_erasure.record_ack(
            db, "booth1", ack.model_copy(update={"result": EraseResult.UNKNOWN})
        )
        ack = EraseAck(session="s-held", node="n2", result=EraseResult.UNKNOWN, at=1e9)
        node_erasure.record_ack(db, "booth1", ack)
    rows = {r["session_id"]: r["nodes"] for r in operator.get("/api/booth/erasure/nodes").json()}
    assert set(rows) == {"s-done", "s-held", "s-training"}
    assert [(n["node"], n["state"], n["frames"]) for n in rows["s-done"]] == [
        ("n1", "erased", 8),
        ("n2", "pending", None),
    ]
    assert [n["state"] for n in rows["s-held"]] == ["pending", "unknown"]


def test_deleting_one_visitor_lists_the_nodes_asked_to_erase(
    booth: Booth, operator: TestClient
) -> None:
    _event(booth.engine, booth.storage)
    r = operator.delete("/api/visitors/s-done")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "deleted"
    assert [(n["node"], n["state"]) for n in r.json()["nodes"]] == [
        ("n1", "pending"),
        ("n2", "pending"),
    ]
