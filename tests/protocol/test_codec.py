"""Frame-packet codec: round trips, limits, and >10,000 malformed payloads all rejected."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.bench.codec import sample_packet
from protocol.codec import (
    HEADER_BYTES,
    MAX_PACKET_BYTES,
    FramePacket,
    decode_packet,
    encode_packet,
)
from protocol.errors import PacketError
from tests.protocol.strategies import encoded, packets, recrc

MANY = settings(max_examples=2100, deadline=None, suppress_health_check=list(HealthCheck))


@settings(max_examples=300, deadline=None)
@given(packets())
def test_round_trip(p: FramePacket) -> None:
    out = decode_packet(encode_packet(p))
    assert out == p
    assert np.array_equal(out.keypoints, p.keypoints)
    assert np.array_equal(out.extras, p.extras)
    assert (out.session, out.node, out.seq, out.jpeg) == (p.session, p.node, p.seq, p.jpeg)
    assert (out.capture_ns, out.ready_ns, out.imputed, out.flags) == (
        p.capture_ns,
        p.ready_ns,
        p.imputed,
        p.flags,
    )


def test_typical_packet_fits_and_names_imputed_joints() -> None:
    p = sample_packet(7)
    p.imputed = 0b101
    wire = encode_packet(p)
    assert len(wire) <= MAX_PACKET_BYTES
    assert decode_packet(wire).imputed_joints() == [0, 2]


def test_encode_refuses_oversized_packet() -> None:
    p = sample_packet(0, jpeg_bytes=MAX_PACKET_BYTES)
    with pytest.raises(PacketError, match="exceeds"):
        encode_packet(p)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("session", "a/b", "session id"),
        ("node", "#", "node id"),
        ("seq", -1, "sequence"),
        ("width", 0, "image size"),
        ("flags", 0x80, "flags"),
        ("jpeg", b"not a jpeg", "JPEG"),
        ("keypoints", np.zeros((16, 3), np.float32), "keypoints"),
        ("imputed", 1 << 17, "imputed"),
    ],
)
def test_encode_rejects_bad_fields(field: str, value: object, message: str) -> None:
    p = sample_packet(0)
    setattr(p, field, value)
    with pytest.raises(PacketError, match=message):
        encode_packet(p)


def test_encode_rejects_nan() -> None:
    p = sample_packet(0)
    p.keypoints[3, 0] = np.nan
    with pytest.raises(PacketError, match="NaN"):
        encode_packet(p)


# -- malformed payloads: 5 strategies x 2,100 examples = 10,500 -------------------------


@MANY
@given(encoded(), st.data())
def test_truncated_rejected(wire: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(wire) - 1))
    with pytest.raises(PacketError):
        decode_packet(wire[:cut])


@MANY
@given(encoded(), st.data())
def test_bit_flips_rejected(wire: bytes, data: st.DataObject) -> None:
    buf = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    if bytes(buf) == wire:  # two flips of the same bit cancel out
        return
    with pytest.raises(PacketError):
        decode_packet(bytes(buf))


@MANY
@given(
    encoded(), st.integers(0, 255).filter(lambda v: v != 1), st.binary(min_size=1, max_size=140_000)
)
def test_wrong_version_or_oversized_rejected(wire: bytes, version: int, tail: bytes) -> None:
    with pytest.raises(PacketError, match="version"):
        decode_packet(recrc(wire[:4] + bytes([version]) + wire[5:]))
    with pytest.raises(PacketError):
        decode_packet(wire[:-4] + tail + wire[-4:])
    with pytest.raises(PacketError, match="exceeds"):
        decode_packet(wire + bytes(MAX_PACKET_BYTES - len(wire) + 1))


@MANY
@given(
    encoded(),
    st.data(),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e9, -1e9, -0.5, 1.5]),
)
def test_non_finite_or_out_of_range_keypoints_rejected(
    wire: bytes, data: st.DataObject, bad: float
) -> None:
    sess_len, node_len = wire[8], wire[9]
    n_all = wire[6] + wire[7]
    base = HEADER_BYTES + sess_len + node_len
    joint = data.draw(st.integers(0, n_all - 1))
    # Coordinates take any non-finite or huge value; confidences also reject -0.5 and 1.5.
    column = data.draw(st.integers(0, 2)) if abs(bad) > 2 or not np.isfinite(bad) else 2
    offset = base + 12 * joint + 4 * column
    buf = wire[:offset] + struct.pack("<f", bad) + wire[offset + 4 :]
    with pytest.raises(PacketError):
        decode_packet(recrc(buf))


@MANY
@given(encoded(), st.integers(0, 255), st.integers(0, 255))
def test_wrong_keypoint_count_rejected(wire: bytes, n_kp: int, n_extra: int) -> None:
    if (n_kp, n_extra) == (wire[6], wire[7]):
        return
    with pytest.raises(PacketError):
        decode_packet(recrc(wire[:6] + bytes([n_kp, n_extra]) + wire[8:]))


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=4096))
def test_garbage_rejected(data: bytes) -> None:
    with pytest.raises(PacketError):
        decode_packet(data)
