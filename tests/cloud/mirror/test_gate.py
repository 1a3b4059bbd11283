"""The mirror's keypoint gate: bad and stale messages dropped and counted by reason."""

from __future__ import annotations

import numpy as np

from cloud.mirror.gate import LiveGate
from protocol.live import encode_live
from tests.cloud.mirror.helpers import live, standing


def test_good_keypoints_pass_and_bad_ones_are_counted_by_reason() -> None:
    gate = LiveGate()
    now = 1_800_000_000_000_000_000
    assert gate.admit(encode_live(live(1, capture_ns=now - 30_000_000)), now) is not None
    nan = standing()
    nan[4, 1] = np.nan
    assert gate.admit(encode_live(live(2, nan, capture_ns=now), check=False), now) is None
    short = standing()[:15]
    assert gate.admit(encode_live(live(3, short, capture_ns=now), check=False), now) is None
    future = encode_live(live(4, capture_ns=now + 10_000_000_000))
    assert gate.admit(future, now) is None
    assert gate.admit(b"garbage", now) is None
    older = encode_live(live(5, capture_ns=now - 60_000_000))
    assert gate.admit(older, now) is None  # overtaken by a newer frame
    assert gate.accepted == 1
    assert dict(gate.dropped) == {"nan": 1, "joints": 1, "future": 1, "size": 1, "stale": 1}
    gate.forget()  # the node restarted: its times may start over
    assert gate.admit(older, now) is not None
