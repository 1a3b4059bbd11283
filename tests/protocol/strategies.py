"""Hypothesis strategies for valid frame packets and their malformed mutations."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from hypothesis import strategies as st

from protocol.codec import FLAG_OFFLINE, FLAG_RESENT, FLAG_SMOOTHED, FramePacket, encode_packet
from protocol.masks import encode_mask, mask_shape

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,20}\Z")
coords = st.floats(-2000, 2000, allow_nan=False, width=32)
confs = st.floats(0, 1, allow_nan=False, width=32)


@st.composite
def masks(draw: st.DrawFn, width: int, height: int) -> bytes:
    """A person mask's PNG for a ``width`` x ``height`` frame: empty, full, or a box."""
    h, w = mask_shape(width, height)
    m = np.zeros((h, w), np.uint8)
    y0, y1 = sorted(draw(st.lists(st.integers(0, h), min_size=2, max_size=2)))
    x0, x1 = sorted(draw(st.lists(st.integers(0, w), min_size=2, max_size=2)))
    m[y0:y1, x0:x1] = draw(st.integers(1, 255))
    return encode_mask(m)


@st.composite
def packets(draw: st.DrawFn, mask: bool | None = None) -> FramePacket:
    """A valid packet; with a mask, without one, or either (``mask=None``)."""
    n_extra = draw(st.sampled_from([0, 4]))
    n = 17 + n_extra
    xy = draw(st.lists(st.tuples(coords, coords, confs), min_size=n, max_size=n))
    arr = np.asarray(xy, dtype=np.float32)
    jpeg = b"\xff\xd8" + draw(st.binary(min_size=0, max_size=2000)) + b"\xff\xd9"
    width, height = draw(st.integers(1, 8192)), draw(st.integers(1, 8192))
    with_mask = draw(st.booleans()) if mask is None else mask
    return FramePacket(
        session=draw(ids),
        node=draw(ids),
        seq=draw(st.integers(0, 2**32 - 1)),
        capture_ns=draw(st.integers(0, 2**63 - 1)),
        ready_ns=draw(st.integers(0, 2**63 - 1)),
        width=width,
        height=height,
        keypoints=arr[:17],
        extras=arr[17:],
        jpeg=jpeg,
        imputed=draw(st.integers(0, 2**n - 1)),
        flags=draw(st.sampled_from([0, FLAG_SMOOTHED, FLAG_SMOOTHED | FLAG_OFFLINE, FLAG_RESENT])),
        people=draw(st.integers(0, 255)),
        mask=draw(masks(width, height)) if with_mask else None,
    )


def recrc(body: bytes) -> bytes:
    """Replace the trailing CRC so a mutation is caught by validation, not the checksum."""
    core = body[:-4]
    return core + struct.pack("<I", zlib.crc32(core))


@st.composite
def encoded(draw: st.DrawFn, mask: bool | None = None) -> bytes:
    return encode_packet(draw(packets(mask)))
