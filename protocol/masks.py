"""The person mask: which pixels of a frame show the dancer, small, as a grayscale PNG.

A mask is a ``uint8`` array ``[h, w]``: 0 = background, 255 = person, values between
are partial coverage (soft edges). It has the frame's aspect and at most
:data:`MASK_LONG_SIDE` pixels on its long side; :func:`mask_shape` gives the size
producers use, and :func:`check_mask_shape` the sizes a reader accepts (any long side
up to the cap, the short side within a pixel of the frame's aspect).

On the wire and in shards it is an 8-bit grayscale PNG (colour type 0, bit depth 8, no
interlace). :func:`encode_mask` writes it with filter 0 and run-length deflate (masks
are mostly runs of 0 and 255: about 0.8 KB at 128x96); :func:`decode_mask` reads any
such PNG, whatever row filters its writer chose, and raises only :class:`MaskError`.
An all-zero mask says nobody was found; :func:`blank_mask` is the one test for "no
usable mask" that nodes and the ingest apply before storing one.
The codec is numpy + zlib so ``protocol`` needs neither OpenCV nor Pillow.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

import numpy as np
import numpy.typing as npt

from protocol.errors import MaskError

Mask = npt.NDArray[np.uint8]

MASK_LONG_SIDE: Final = 128
MAX_MASK_PNG_BYTES: Final = (
    64 * 1024
)  # a 128 x 128 mask is 16 KiB raw; zlib never grows it this far
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_CHUNK_HEAD: Final = struct.Struct(">I4s")
_IHDR: Final = struct.Struct(">IIBBBBB")


def mask_shape(width: int, height: int, long_side: int = MASK_LONG_SIDE) -> tuple[int, int]:
    """``(h, w)`` of the mask of a ``width`` x ``height`` frame: the frame's aspect with
    ``long_side`` (capped at the frame's own long side) pixels on its long side."""
    if width < 1 or height < 1:
        raise MaskError(f"frame size {width}x{height} has no mask")
    long_px = max(1, min(long_side, MASK_LONG_SIDE, max(width, height)))
    if width >= height:
        return max(1, round(height * long_px / width)), long_px
    return long_px, max(1, round(width * long_px / height))


def check_mask_shape(shape: tuple[int, ...], width: int, height: int) -> None:
    """Raise :class:`MaskError` unless ``shape`` is a mask size for a ``width`` x ``height``
    frame (long side at most :data:`MASK_LONG_SIDE`, aspect kept within a pixel)."""
    if len(shape) != 2:
        raise MaskError(f"a mask is one channel [h, w], got shape {shape}")
    h, w = shape
    if not 1 <= max(h, w) <= MASK_LONG_SIDE:
        raise MaskError(f"mask of {w}x{h} px: its long side must be 1-{MASK_LONG_SIDE} px")
    if width >= height:
        expected = height * w / width
        ok = abs(h - expected) <= 1
    else:
        expected = width * h / height
        ok = abs(w - expected) <= 1
    if not ok:
        raise MaskError(f"mask of {w}x{h} px does not have the {width}x{height} frame's aspect")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(
        (_CHUNK_HEAD.pack(len(data), kind), data, struct.pack(">I", zlib.crc32(kind + data)))
    )


def encode_mask(mask: npt.ArrayLike, *, level: int = 6) -> bytes:
    """A ``uint8 [h, w]`` mask as an 8-bit grayscale PNG.

    Row filter 0 and zlib's run-length strategy: on 30 of the synthetic booth's 128x96
    masks that was both the smallest (median 792 B against 884 B for the default
    strategy and 1,010-1,160 B with the Sub or Up filter) and the fastest (about 4x
    faster than the default strategy). ``dancebooth bench protocol`` prints the size and
    time on 150 frames (docs/benchmarks.md)."""
    m = np.asarray(mask)
    if m.ndim != 2 or m.dtype != np.uint8 or m.size == 0:
        raise MaskError(f"a mask is a non-empty uint8 [h, w] array, got {m.dtype} {m.shape}")
    h, w = m.shape
    if max(h, w) > MASK_LONG_SIDE:
        raise MaskError(f"mask of {w}x{h} px: downsample it to {MASK_LONG_SIDE} px first")
    rows = np.zeros((h, w + 1), np.uint8)  # a leading 0 per row: filter type None
    rows[:, 1:] = m
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", _IHDR.pack(w, h, 8, 0, 0, 0, 0)),
            _chunk(b"IDAT", _deflate(rows.tobytes(), level)),
            _chunk(b"IEND", b""),
        )
    )


def _deflate(data: bytes, level: int) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return packer.compress(data) + packer.flush()


def decode_mask(data: bytes, width: int | None = None, height: int | None = None) -> Mask:
    """The mask in a PNG; with ``width``/``height``, also check it fits that frame.
    Raises only :class:`MaskError`."""
    try:
        mask = _decode(bytes(data))
    except MaskError:
        raise
    except Exception as exc:  # any malformation surfaces as the one error
        raise MaskError(f"mask is not a readable PNG: {exc!r}") from exc
    if width is not None and height is not None:
        check_mask_shape(mask.shape, width, height)
    return mask


def blank_mask(mask: Mask | bytes | None) -> bool:
    """True for no mask or an all-zero one (no person found): such frames are stored
    without a mask, counted, and trained full-frame. ``mask`` is an array or its PNG."""
    if mask is None:
        return True
    pixels = decode_mask(mask) if isinstance(mask, bytes) else np.asarray(mask)
    return not pixels.any()


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) > MAX_MASK_PNG_BYTES:
        raise MaskError(f"mask PNG of {len(data)} bytes exceeds {MAX_MASK_PNG_BYTES}")
    if not data.startswith(PNG_SIGNATURE):
        raise MaskError("mask is not a PNG (bad signature)")
    pos, out = len(PNG_SIGNATURE), []
    while pos < len(data):
        if pos + 12 > len(data):
            raise MaskError("mask PNG is truncated")
        length, kind = _CHUNK_HEAD.unpack_from(data, pos)
        end = pos + 8 + length
        if end + 4 > len(data):
            raise MaskError(f"mask PNG chunk {kind!r} is truncated")
        body = data[pos + 8 : end]
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(kind + body) != crc:
            raise MaskError(f"mask PNG chunk {kind!r} fails its CRC")
        out.append((kind, body))
        pos = end + 4
        if kind == b"IEND":
            break
    if not out or out[-1][0] != b"IEND" or pos != len(data):
        raise MaskError("mask PNG does not end with IEND")
    return out


def _decode(data: bytes) -> Mask:
    chunks = _chunks(data)
    if chunks[0][0] != b"IHDR" or len(chunks[0][1]) != _IHDR.size:
        raise MaskError("mask PNG does not start with IHDR")
    w, h, depth, colour, comp, filt, interlace = _IHDR.unpack(chunks[0][1])
    if (depth, colour) != (8, 0):
        raise MaskError(
            f"mask PNG must be 8-bit grayscale, got bit depth {depth}, colour type {colour}"
        )
    if comp or filt or interlace:
        raise MaskError("mask PNG must be non-interlaced with standard compression")
    if not (1 <= w <= MASK_LONG_SIDE and 1 <= h <= MASK_LONG_SIDE):
        raise MaskError(f"mask of {w}x{h} px: its long side must be 1-{MASK_LONG_SIDE} px")
    packed = b"".join(body for kind, body in chunks if kind == b"IDAT")
    stride = w + 1
    inflater = zlib.decompressobj()
    raw = inflater.decompress(packed, h * stride + 1)
    if len(raw) != h * stride or not inflater.eof:
        raise MaskError(f"mask PNG pixel data does not hold {w}x{h} pixels")
    rows = np.frombuffer(raw, np.uint8).reshape(h, stride)
    if not rows[:, 0].any():  # filter 0 on every row, as encode_mask writes
        return rows[:, 1:].copy()
    return _unfilter(rows, w, h)


def _unfilter(rows: npt.NDArray[np.uint8], w: int, h: int) -> Mask:
    out = np.zeros((h, w), np.uint8)
    prev = np.zeros(w, np.uint8)
    for y in range(h):
        kind, line = int(rows[y, 0]), rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum along the row, mod 256
            cur = np.cumsum(line, dtype=np.uint8)
        elif kind == 2:  # Up
            cur = line + prev
        elif kind in (3, 4):  # Average, Paeth: each pixel needs its left neighbour
            cur = _unfilter_row(kind, line, prev)
        else:
            raise MaskError(f"mask PNG row {y} has unknown filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def _unfilter_row(kind: int, line: npt.NDArray[np.uint8], prev: npt.NDArray[np.uint8]) -> Mask:
    cur = np.zeros(len(line), np.uint8)
    left, up_left = 0, 0
    for x in range(len(line)):
        up = int(prev[x])
        if kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
        left = (int(line[x]) + pred) & 0xFF
        cur[x] = left
        up_left = up
    return cur
