from __future__ import annotations

import pytest

from protocol.errors import MessageError
from protocol.messages import (
    CaptureManifest,
    CaptureStart,
    NodeState,
    NodeStats,
    NodeStatus,
    ResendRequest,
    decode_message,
)


def manifest(**kw: object) -> CaptureManifest:
    base: dict[str, object] = dict(
        session="s1",
        node="n1",
        first_seq=0,
        last_seq=9,
        frame_count=8,
        dropped=[3, 4],
        width=640,
        height=480,
        fps=30.0,
        started_at=1e9,
        ended_at=1e9 + 15,
    )
    base.update(kw)
    return CaptureManifest.model_validate(base)


def test_round_trip() -> None:
    msgs = [
        CaptureStart(session="s1", start_at=1.7e9, duration_s=15),
        ResendRequest(session="s1", node="n1", ranges=[{"first": 3, "last": 7}]),  # type: ignore[list-item]
        NodeStatus(node="n1", state=NodeState.ONLINE, at=1.7e9),
        manifest(),
    ]
    for m in msgs:
        assert decode_message(type(m), m.to_bytes()) == m


def test_manifest_expected_seqs() -> None:
    assert manifest().expected_seqs() == {0, 1, 2, 5, 6, 7, 8, 9}
    with pytest.raises(ValueError, match="frame_count"):
        manifest(frame_count=9)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"session": "s1", "start_at": 1, "duration_s": 15, "colour": "red"}', "colour"),
        (b'{"session": "s1", "start_at": 1, "duration_s": NaN}', "duration_s"),
        (b'{"session": "s1", "start_at": 1, "duration_s": 1e300}', "duration_s"),
        (b'{"session": "s/1", "start_at": 1, "duration_s": 15}', "session"),
        (b'{"v": 2, "session": "s1", "start_at": 1, "duration_s": 15}', "v"),
        (b"not json", "CaptureStart"),
        (b"\xff\xfe", "CaptureStart"),
        (b"[]", "CaptureStart"),
    ],
)
def test_bad_messages_name_the_problem(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError, match=reason):
        decode_message(CaptureStart, payload)


def test_oversized_message_refused() -> None:
    with pytest.raises(MessageError, match="exceeds"):
        decode_message(CaptureStart, b" " * 100_000)


def test_resend_ranges_must_be_ordered() -> None:
    with pytest.raises(MessageError, match="last must be"):
        decode_message(ResendRequest, b'{"session":"s","node":"n","ranges":[{"first":5,"last":2}]}')


def test_manifest_lost_frames_are_not_expected() -> None:
    lost = manifest(frame_count=6, lost=[0, 9])
    assert lost.expected_seqs() == {1, 2, 5, 6, 7, 8}
    assert decode_message(CaptureManifest, lost.to_bytes()) == lost
    with pytest.raises(ValueError, match="both dropped and lost"):
        manifest(frame_count=7, lost=[3])
    with pytest.raises(ValueError, match=r"len\(lost\)"):
        manifest(lost=[0])


def test_fields_added_within_v1_stay_off_the_wire_while_they_say_nothing() -> None:
    # A receiver that predates them (extra="forbid") keeps accepting what most
    # messages are: no pose failures, no lost frames.
    quiet = NodeStatus(node="n1", state=NodeState.ONLINE, at=1.7e9, stats=NodeStats(people_seen=1))
    assert b"pose_failures" not in quiet.to_bytes() and b"lost_frames" not in quiet.to_bytes()
    assert b'"people_seen":1' in quiet.to_bytes()
    assert b'"lost"' not in manifest().to_bytes()
    failing = NodeStatus(
        node="n1", state=NodeState.ONLINE, at=1.7e9, stats=NodeStats(pose_failures=3, lost_frames=1)
    )
    assert decode_message(NodeStatus, failing.to_bytes()).stats.pose_failures == 3
    # What an older node sends still decodes, with the new counters at zero.
    old = b'{"v":1,"node":"n1","state":"online","at":1.7e9,"stats":{"capture_fps":30.0}}'
    stats = decode_message(NodeStatus, old).stats
    assert (stats.capture_fps, stats.pose_failures, stats.lost_frames) == (30.0, 0, 0)
