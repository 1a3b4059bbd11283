from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import MaskError
from protocol.masks import (
    MASK_LONG_SIDE,
    PNG_SIGNATURE,
    check_mask_shape,
    decode_mask,
    encode_mask,
    mask_shape,
)


def blob(h: int = 96, w: int = 128) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (w // 5, h // 3), 10, 0, 360, 255, -1, cv2.LINE_AA)
    return m


def test_mask_shape_keeps_the_frames_aspect() -> None:
    assert mask_shape(640, 480) == (96, 128)
    assert mask_shape(480, 640) == (128, 96)
    assert mask_shape(1280, 720) == (72, 128)
    assert mask_shape(256, 256) == (128, 128)
    assert mask_shape(64, 48) == (48, 64)  # never upsampled past the frame
    assert mask_shape(640, 480, 64) == (48, 64)
    check_mask_shape((48, 64), 640, 480)
    check_mask_shape((97, 128), 640, 480)  # a pixel of rounding is allowed
    for bad in ((96, 129), (128, 96), (64, 128), (96, 128, 1)):
        with pytest.raises(MaskError):
            check_mask_shape(bad, 640, 480)


def test_round_trip_is_exact_and_small() -> None:
    m = blob()
    png = encode_mask(m)
    assert png.startswith(PNG_SIGNATURE)
    assert np.array_equal(decode_mask(png, 640, 480), m)
    assert len(png) < 2000


def test_reads_pngs_written_by_opencv_with_any_filter() -> None:
    rng = np.random.default_rng(0)
    m = blob()
    m[::7] = rng.integers(0, 256, (m[::7].shape), dtype=np.uint8)  # defeat trivial filters
    for strategy in (0, 1, 2, 3, 4):
        ok, png = cv2.imencode(".png", m, [cv2.IMWRITE_PNG_STRATEGY, strategy])
        assert ok
        assert np.array_equal(decode_mask(png.tobytes()), m)


def test_every_filter_type_decodes() -> None:
    rng = np.random.default_rng(1)
    m = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    rows = []
    prev = np.zeros(11, np.int32)
    for y in range(9):
        cur = m[y].astype(np.int32)
        kind = y % 5
        left = np.concatenate([[0], cur[:-1]])
        upleft = np.concatenate([[0], prev[:-1]])
        if kind == 0:
            pred = np.zeros(11, np.int32)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = prev
        elif kind == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        rows.append(bytes([kind]) + ((cur - pred) & 0xFF).astype(np.uint8).tobytes())
        prev = cur

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I4s", len(data), kind) + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    png = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 11, 9, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    assert np.array_equal(decode_mask(png), m)


def test_bad_masks_raise_mask_error_only() -> None:
    png = encode_mask(blob())
    colour = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    sixteen = cv2.imencode(".png", np.zeros((8, 8), np.uint16))[1].tobytes()
    big = cv2.imencode(".png", np.zeros((8, 200), np.uint8))[1].tobytes()
    bad = [b"", b"not a png", png[:-5], png[:40], png[:30] + b"x" + png[31:], colour, sixteen, big]
    for data in bad:
        with pytest.raises(MaskError):
            decode_mask(data)
    with pytest.raises(MaskError, match="aspect"):
        decode_mask(png, 480, 640)
    for arr in (
        np.zeros((4, 4), np.float32),
        np.zeros((4, 4, 3), np.uint8),
        np.zeros((8, 200), np.uint8),
    ):
        with pytest.raises(MaskError):
            encode_mask(arr)
    assert MASK_LONG_SIDE == 128


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_pngs_decode_or_raise_mask_error_only(data: st.DataObject) -> None:
    png = bytearray(encode_mask(blob(24, 32)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(png) - 1))
        png[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(png)))
    try:
        mask = decode_mask(bytes(png[:cut]), 32, 24)
    except MaskError:
        return
    assert mask.ndim == 2 and mask.dtype == np.uint8  # a PNG still consistent after it
