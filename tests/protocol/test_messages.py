from __future__ import annotations

import pytest

from protocol.errors import MessageError
from protocol.messages import (
    CaptureManifest,
    CaptureStart,
    NodeState,
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
