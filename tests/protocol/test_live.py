"""The live keypoint message: round trip, size, and every kind of bad message refused
with its reason."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from protocol.live import (
    LIVE_BYTES,
    LIVE_CAPTURING,
    LIVE_SMOOTHED,
    LiveError,
    LiveKeypoints,
    check_live_time,
    decode_live,
    encode_live,
)
from protocol.skeleton import NUM_KEYPOINTS


def _live(**changes: object) -> LiveKeypoints:
    rng = np.random.default_rng(0)
    kps = np.concatenate(
        [rng.uniform(0, 600, (NUM_KEYPOINTS, 2)), rng.uniform(0, 1, (NUM_KEYPOINTS, 1))], axis=1
    ).astype(np.float32)
    live = LiveKeypoints(
        seq=7,
        capture_ns=1_764_000_000_000_000_000,
        width=640,
        height=480,
        keypoints=kps,
        people=2,
        flags=LIVE_SMOOTHED | LIVE_CAPTURING,
        publish_ns=1_764_000_000_004_000_000,
    )
    for name, value in changes.items():
        setattr(live, name, value)
    return live


def test_round_trip_is_exact_and_tiny() -> None:
    live = _live()
    data = encode_live(live)
    assert len(data) == LIVE_BYTES == 240
    back = decode_live(data)
    assert (back.seq, back.capture_ns, back.publish_ns, back.width, back.height) == (
        7,
        live.capture_ns,
        live.publish_ns,
        640,
        480,
    )
    assert (back.people, back.flags) == (2, LIVE_SMOOTHED | LIVE_CAPTURING)
    np.testing.assert_array_equal(back.keypoints, live.keypoints)
    assert back.seen


def test_nobody_in_view_is_not_seen() -> None:
    live = _live(people=0, keypoints=np.zeros((NUM_KEYPOINTS, 3), np.float32))
    assert not decode_live(encode_live(live)).seen


def _reason(data: bytes) -> str:
    with pytest.raises(LiveError) as info:
        decode_live(data)
    return info.value.reason


def test_bad_messages_are_refused_with_their_reason() -> None:
    nan = _live().keypoints.copy()
    nan[3, 0] = np.nan
    assert _reason(encode_live(_live(keypoints=nan), check=False)) == "nan"
    short = _live().keypoints[:16]
    assert _reason(encode_live(_live(keypoints=short), check=False)) == "joints"
    data = bytearray(encode_live(_live()))
    data[40] ^= 0xFF
    assert _reason(bytes(data)) == "crc"
    assert _reason(b"DBFP" + bytes(236)) == "magic"
    assert _reason(b"") == "size"
    assert _reason(encode_live(_live())[:-1]) == "size"
    wide = _live().keypoints.copy()
    wide[0, 2] = 1.5
    assert _reason(encode_live(_live(keypoints=wide), check=False)) == "range"
    with pytest.raises(LiveError, match="keypoints must be"):
        encode_live(_live(keypoints=short))


def test_random_bytes_raise_only_the_codec_error() -> None:
    rng = np.random.default_rng(1)
    good = encode_live(_live())
    for _ in range(300):
        data = bytearray(good)
        for i in rng.integers(0, len(data), 3):
            data[i] = int(rng.integers(0, 256))
        with contextlib.suppress(LiveError):
            decode_live(bytes(data))


def test_a_capture_time_from_the_future_is_refused() -> None:
    live = _live()
    check_live_time(live, live.capture_ns)  # now: fine
    check_live_time(live, live.capture_ns - 500_000_000)  # 0.5 s ahead: clock jitter
    with pytest.raises(LiveError, match="future") as info:
        check_live_time(live, live.capture_ns - 5_000_000_000)
    assert info.value.reason == "future"
