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
    MAX_MASK_BYTES,
    MAX_PACKET_BYTES,
    PACKET_VERSION,
    FramePacket,
    decode_packet,
    encode_packet,
)
from protocol.errors import PacketError
from protocol.masks import encode_mask, mask_shape
from tests.protocol.strategies import encoded, packets, recrc

MANY = settings(max_examples=2100, deadline=None, suppress_health_check=list(HealthCheck))
SOME = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))


@settings(max_examples=300, deadline=None)
@given(packets())
def test_round_trip(p: FramePacket) -> None:
    out = decode_packet(encode_packet(p))
    assert out == p
    assert np.array_equal(out.keypoints, p.keypoints)
    assert np.array_equal(out.extras, p.extras)
    assert (out.session, out.node, out.seq, out.jpeg) == (p.session, p.node, p.seq, p.jpeg)
    assert out.mask == p.mask
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
    encoded(),
    st.integers(0, 255).filter(lambda v: v not in (1, 2)),
    st.binary(min_size=1, max_size=140_000),
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


# -- the person mask (version 2) ---------------------------------------------------------


def _mask_png(width: int = 640, height: int = 480) -> bytes:
    m = np.zeros(mask_shape(width, height), np.uint8)
    m[20:80, 40:70] = 255
    return encode_mask(m)


def _mask_span(wire: bytes) -> tuple[int, int]:
    """(start, length) of the mask in an encoded packet."""
    (mask_len,) = struct.unpack_from("<H", wire, 45)
    return len(wire) - 4 - mask_len, mask_len


def test_packets_are_version_2_and_carry_the_mask() -> None:
    p = sample_packet(3)
    p.mask = _mask_png()
    wire = encode_packet(p)
    assert wire[4] == PACKET_VERSION == 2
    assert _mask_span(wire)[1] == len(p.mask) < 1000
    assert decode_packet(wire).mask == p.mask
    assert decode_packet(encode_packet(sample_packet(3))).mask is None


def _as_v1(wire: bytes) -> bytes:
    return recrc(wire[:4] + bytes([1]) + wire[5:])


@settings(max_examples=200, deadline=None)
@given(encoded(mask=False))
def test_version_1_packets_still_decode_without_a_mask(wire: bytes) -> None:
    out = decode_packet(_as_v1(wire))
    assert out.mask is None
    assert encode_packet(out)[5:-4] == wire[5:-4]  # the same packet, re-sent as v2


@settings(max_examples=200, deadline=None)
@given(encoded(mask=True))
def test_version_1_packets_cannot_carry_a_mask(wire: bytes) -> None:
    with pytest.raises(PacketError, match="reserved"):
        decode_packet(_as_v1(wire))


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (b"", "1-"),
        (b"\x89PNG not really", "person mask"),
        (bytes(MAX_MASK_BYTES + 1), "person mask must be"),
        (_mask_png(480, 640), "aspect"),
        (encode_mask(np.zeros((96, 128), np.uint8))[:-3], "person mask"),
    ],
)
def test_encode_rejects_bad_masks(mask: bytes, message: str) -> None:
    p = sample_packet(0)
    p.mask = mask
    with pytest.raises(PacketError, match=message):
        encode_packet(p)


@SOME
@given(encoded(mask=True), st.data())
def test_mask_bit_flips_rejected_even_with_a_fixed_crc(wire: bytes, data: st.DataObject) -> None:
    start, length = _mask_span(wire)
    buf = bytearray(wire)
    pos = start + data.draw(st.integers(0, length - 1))
    buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(PacketError):
        decode_packet(recrc(bytes(buf)))


@SOME
@given(encoded(mask=True), st.data())
def test_truncated_or_resized_mask_rejected(wire: bytes, data: st.DataObject) -> None:
    start, length = _mask_span(wire)
    cut = data.draw(st.integers(1, length - 1))  # 0 would be a valid packet without a mask
    # The mask cut short, with its length field saying so: the PNG is incomplete.
    short = wire[:45] + struct.pack("<H", cut) + wire[47:start] + wire[start : start + cut]
    with pytest.raises(PacketError):
        decode_packet(recrc(short + b"\0\0\0\0"))
    # A length field that disagrees with the bytes that follow.
    other = data.draw(st.integers(0, 65535).filter(lambda n: n != length))
    with pytest.raises(PacketError):
        decode_packet(recrc(wire[:45] + struct.pack("<H", other) + wire[47:]))


@SOME
@given(encoded(mask=False), st.binary(min_size=1, max_size=70_000))
def test_oversized_or_garbage_mask_rejected(wire: bytes, junk: bytes) -> None:
    """Any bytes in the mask field that are not a fitting PNG, up to the u16 limit."""
    junk = junk[:65535]
    body = wire[:45] + struct.pack("<H", len(junk)) + wire[47:-4] + junk
    with pytest.raises(PacketError):
        decode_packet(recrc(body + b"\0\0\0\0"))


def test_a_mask_larger_than_its_cap_is_refused_even_if_a_valid_png() -> None:
    import zlib

    p = sample_packet(0, jpeg_bytes=1000)
    p.mask = _mask_png()
    wire = encode_packet(p)
    start, _ = _mask_span(wire)
    # The same PNG padded with an extra, CRC-valid ancillary chunk past MAX_MASK_BYTES.
    pad = bytes(MAX_MASK_BYTES)
    chunk = (
        struct.pack(">I4s", len(pad), b"teXt") + pad + struct.pack(">I", zlib.crc32(b"teXt" + pad))
    )
    png = p.mask[:-12] + chunk + p.mask[-12:]
    body = wire[:45] + struct.pack("<H", len(png)) + wire[47:start] + png
    with pytest.raises(PacketError, match="person mask must be"):
        decode_packet(recrc(body + b"\0\0\0\0"))
