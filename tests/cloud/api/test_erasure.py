"""Deleting everything from this event from the dashboard: the plan, then the typed confirm."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

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
