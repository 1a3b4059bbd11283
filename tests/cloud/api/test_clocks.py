"""Node clock offsets: the NTP arithmetic, which echoes count, the dashboard's view and the
capture refused while a node's clock would make it film the wrong seconds."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from cloud.api.clocks import ClockReading, NodeClocks, capture_refusal, measure
from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Node, utcnow
from protocol.messages import ClockEcho, NodeState, NodeStatus
from tests.cloud.api.conftest import Booth

T0 = 1_700_000_000.0


def answer(offset: float, out_s: float, back_s: float, think_s: float = 0.0) -> NodeStatus:
    """The status a node whose clock is ``offset`` ahead sends back to a ping sent at T0."""
    received = T0 + out_s + offset
    return NodeStatus(
        node="cam-left",
        state=NodeState.ONLINE,
        at=received + think_s,
        clock=ClockEcho(sent_at=T0, received_at=received),
    )


@pytest.mark.parametrize("offset", [0.0, 2.5, -40.0])
def test_symmetric_round_trip_measures_the_offset_exactly(offset: float) -> None:
    status = answer(offset, out_s=0.03, back_s=0.03, think_s=0.004)
    reading = measure(status, received_at=T0 + 0.03 + 0.004 + 0.03)
    assert reading is not None
    assert reading.offset_s == pytest.approx(offset, abs=1e-6)
    assert reading.delay_s == pytest.approx(0.06, abs=1e-6)  # the node's 4 ms are not network


def test_an_asymmetric_trip_errs_by_at_most_half_the_delay() -> None:
    status = answer(1.0, out_s=0.2, back_s=0.01)
    reading = measure(status, received_at=T0 + 0.21)
    assert reading is not None
    assert abs(reading.offset_s - 1.0) <= reading.delay_s / 2 + 1e-9


def test_only_echoes_of_our_own_pings_count_and_the_shortest_trip_wins() -> None:
    clocks = NodeClocks()
    status = answer(0.5, out_s=0.01, back_s=0.01)
    assert clocks.record("cam-left", status, T0 + 0.02) is None, "a ping we never sent"
    clocks.sent(T0)
    slow = clocks.record("cam-left", answer(0.5, out_s=0.01, back_s=0.5), T0 + 0.51)
    fast = clocks.record("cam-left", status, T0 + 0.02)
    assert slow is not None and fast is not None
    assert clocks.get("cam-left", now=T0 + 1) == fast
    assert clocks.get("cam-left", now=T0 + 1000) is None, "stale readings are forgotten"
    assert clocks.get("cam-right", now=T0 + 1) is None


def _clocks(**offsets: float) -> NodeClocks:
    clocks = NodeClocks()
    for node, offset in offsets.items():
        clocks.put(node.replace("_", "-"), ClockReading(offset, 0.02, time.time()))
    return clocks


def test_refusal_names_the_node_and_what_would_happen() -> None:
    kw = {"countdown_s": 5.0, "duration_s": 15.0, "refuse_s": 1.0}
    clocks = _clocks(cam_left=0.05, cam_right=30.0, cam_back=-3.0)
    assert capture_refusal(clocks, ["cam-left"], **kw) is None
    reason = capture_refusal(clocks, ["cam-left", "cam-right", "cam-back"], **kw)
    assert reason is not None and "cam-left" not in reason
    assert "node cam-right's clock is 30.00 s ahead" in reason
    assert "ignore the capture" in reason
    assert "node cam-back's clock is 3.00 s behind" in reason and "3.0 s late" in reason
    assert "timedatectl" in reason
    early = capture_refusal(_clocks(cam_left=4.0), ["cam-left"], **kw)
    assert early is not None and "4.0 s early" in early
    unsure = NodeClocks()
    unsure.put("cam-left", ClockReading(1.5, 2.0, time.time()))  # 1.5 ± 1.0 s: maybe fine
    assert capture_refusal(unsure, ["cam-left"], **kw) is None


def _online(booth: Booth, *nodes: str) -> None:
    with transaction(session_factory(booth.engine)) as db:
        ensure_booth(db, "booth1")
        for node in nodes:
            db.add(Node(booth_id="booth1", id=node, state="online", seen_at=utcnow()))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_shows_offsets_and_a_far_off_node_blocks_the_capture(
    booth: Booth, client: TestClient, operator: TestClient
) -> None:
    _online(booth, "cam-left", "cam-right")
    booth.link.clocks.put("cam-left", ClockReading(0.004, 0.01, time.time()))
    booth.link.clocks.put("cam-right", ClockReading(-2.5, 0.01, time.time()))
    nodes = {n["id"]: n for n in operator.get("/api/booth/nodes").json()}
    assert nodes["cam-left"]["clock_offset_s"] == pytest.approx(0.004)
    assert nodes["cam-left"]["clock_error_s"] == pytest.approx(0.005)
    assert not nodes["cam-left"]["clock_warning"]
    assert nodes["cam-right"]["clock_warning"]

    sid = client.post("/api/visitors", json={"email": "a@example.com", "consent": True}).json()
    r = operator.post("/api/booth/capture", json={"session_id": sid["id"]})
    assert r.status_code == 409
    assert "cam-right" in r.json()["detail"] and "behind" in r.json()["detail"]
    assert booth.link.sent == [], "nothing was sent to the nodes"
    assert operator.get(f"/api/visitors/{sid['id']}/status").json()["state"] == "registered"

    booth.link.clocks.put("cam-right", ClockReading(0.02, 0.001, time.time()))  # fixed
    r = operator.post("/api/booth/capture", json={"session_id": sid["id"]})
    assert r.status_code == 200, r.text
