"""The live keypoint message: one frame's dancer, as small as it can be, for the mirror.

A node publishes one per frame it looks at (capturing or not) on its ``live`` topic at
QoS 0: the repaired, online-smoothed keypoints of the dancer with the frame's capture
time. Nothing is stored or resent; a lost message is replaced by the next one 33 ms
later. Layout (little-endian), version 1, 240 bytes for COCO-17::

    offset size  field
    0      4     magic b"DBLK"
    4      1     version (1)
    5      1     flags (LIVE_*)
    6      1     keypoint count K (17, COCO order)
    7      1     people seen in the frame (0: nobody; the keypoints are then all unseen)
    8      4     sequence number (per node, wraps at 2**32)
    12     8     capture time, ns since the Unix epoch
    20     8     publish time, ns since the Unix epoch (node clock)
    28     2     image width
    30     2     image height
    32     12·K  keypoints: K × (x, y, confidence) float32, image pixels
    end-4  4     CRC-32 of everything before it

:func:`decode_live` raises only :class:`LiveError`, whose ``reason`` names the kind of
fault, so a consumer can count what it drops by kind. A capture time in the future is a
property of the receiver's clock, not of the bytes: :func:`check_live_time` tests it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from protocol.errors import ProtocolError
from protocol.skeleton import NUM_KEYPOINTS

LIVE_MAGIC: Final = b"DBLK"
LIVE_VERSION: Final = 1
LIVE_SMOOTHED: Final = 0x01  # the node's online smoother ran (One Euro)
LIVE_CAPTURING: Final = 0x02  # a capture was recording this frame
_KNOWN_FLAGS: Final = LIVE_SMOOTHED | LIVE_CAPTURING
MAX_DIMENSION: Final = 8192
MAX_ABS_COORD: Final = 65536.0
# How far a capture time may lie ahead of the receiver's clock: the booth's clocks are
# NTP-synced to a few ms; more than this is a wrong clock, and a mirror that waited
# for such a frame would freeze.
MAX_FUTURE_S: Final = 1.0

_HEADER: Final = struct.Struct("<4sBBBBIQQHH")
_CRC: Final = struct.Struct("<I")
LIVE_BYTES: Final = _HEADER.size + 12 * NUM_KEYPOINTS + _CRC.size

FloatArray = npt.NDArray[np.float32]


class LiveError(ProtocolError):
    """A live keypoint message that is not valid; ``reason`` is one short word
    (``size``, ``magic``, ``version``, ``crc``, ``joints``, ``nan``, ``range``, ``future``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(eq=False)
class LiveKeypoints:
    """The dancer in one frame, as the node saw them."""

    seq: int
    capture_ns: int
    width: int
    height: int
    keypoints: FloatArray  # [17, 3]: x, y, confidence in image pixels
    people: int = 1
    flags: int = LIVE_SMOOTHED
    publish_ns: int = 0

    @property
    def seen(self) -> bool:
        """Whether a dancer is in the frame."""
        return self.people > 0 and bool((self.keypoints[:, 2] > 0).any())


def _check(live: LiveKeypoints, kps: FloatArray) -> None:
    if kps.ndim != 2 or kps.shape[1] != 3 or len(kps) != NUM_KEYPOINTS:
        raise LiveError("joints", f"keypoints must be [{NUM_KEYPOINTS}, 3], got {kps.shape}")
    if not np.isfinite(kps).all():
        raise LiveError("nan", "keypoints contain NaN or infinity")
    if (np.abs(kps[:, :2]) > MAX_ABS_COORD).any() or ((kps[:, 2] < 0) | (kps[:, 2] > 1)).any():
        raise LiveError("range", "keypoint coordinates or confidences out of range")
    if not (1 <= live.width <= MAX_DIMENSION and 1 <= live.height <= MAX_DIMENSION):
        raise LiveError("range", f"image size {live.width}x{live.height} out of range")
    if not (0 <= live.capture_ns < 2**63 and 0 <= live.publish_ns < 2**63):
        raise LiveError("range", "timestamps must be non-negative 63-bit ns values")
    if not 0 <= live.seq < 2**32 or not 0 <= live.people < 256:
        raise LiveError("range", "sequence number or people count out of range")
    if live.flags & ~_KNOWN_FLAGS or not 0 <= live.flags < 256:
        raise LiveError("range", f"unknown flags {live.flags:#x}")


def encode_live(live: LiveKeypoints, *, check: bool = True) -> bytes:
    """Serialise ``live``; raise :class:`LiveError` if it breaks a limit.

    ``check=False`` packs whatever it is given (tests make bad messages with it).
    """
    kps = np.asarray(live.keypoints, dtype=np.float32)
    if check:
        _check(live, kps)
    header = _HEADER.pack(
        LIVE_MAGIC, LIVE_VERSION, live.flags, len(kps), live.people, live.seq,
        live.capture_ns, live.publish_ns, live.width, live.height,
    )  # fmt: skip
    body = header + kps.astype("<f4").tobytes()
    return body + _CRC.pack(zlib.crc32(body))


def decode_live(data: bytes | bytearray | memoryview) -> LiveKeypoints:
    """Parse and validate a live message. Raises only :class:`LiveError`."""
    raw = bytes(data)
    if len(raw) < _HEADER.size + _CRC.size or len(raw) > 4096:
        raise LiveError("size", f"a live message of {len(raw)} bytes")
    magic, version, flags, count, people, seq, capture_ns, publish_ns, width, height = (
        _HEADER.unpack_from(raw)
    )
    if magic != LIVE_MAGIC:
        raise LiveError("magic", "not a live keypoint message (bad magic)")
    if version != LIVE_VERSION:
        raise LiveError("version", f"live message version {version}; this side reads 1")
    if len(raw) != _HEADER.size + 12 * count + _CRC.size:
        raise LiveError("size", f"length {len(raw)} does not match {count} keypoints")
    (crc,) = _CRC.unpack_from(raw, len(raw) - _CRC.size)
    if zlib.crc32(memoryview(raw)[: -_CRC.size]) != crc:
        raise LiveError("crc", "checksum mismatch (corrupted live message)")
    kps = np.frombuffer(raw, "<f4", 3 * count, _HEADER.size).reshape(count, 3).astype(np.float32)
    live = LiveKeypoints(seq, capture_ns, width, height, kps, people, flags, publish_ns)
    _check(live, kps)
    return live


def check_live_time(live: LiveKeypoints, now_ns: int, max_future_s: float = MAX_FUTURE_S) -> None:
    """Raise :class:`LiveError` (``future``) for a capture time ahead of ``now_ns``."""
    ahead_s = (live.capture_ns - now_ns) / 1e9
    if ahead_s > max_future_s:
        raise LiveError(
            "future",
            f"capture time {ahead_s:.1f} s in the future: check the node's clock (NTP)",
        )
