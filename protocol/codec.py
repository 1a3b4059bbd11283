"""The binary frame packet: one captured frame, its keypoints and timing, in one message.

Layout (little-endian), version 2::

    offset size  field
    0      4     magic b"DBFP"
    4      1     version (2; 1 is still read)
    5      1     flags (FLAG_*)
    6      1     keypoint count (17, COCO order)
    7      1     extra keypoint count (0 or 4: heels, foot tips)
    8      1     session id length
    9      1     node id length
    10     2     reserved, zero
    12     4     sequence number
    16     8     capture time, ns since the Unix epoch
    24     8     keypoints-ready time, ns since the Unix epoch (0 = unknown)
    32     2     image width
    34     2     image height
    36     4     imputed-joint bit mask (bit i = keypoint i, extras follow the 17)
    40     4     JPEG length
    44     1     people seen in the frame
    45     2     person-mask length M (0 = no mask)            [v2; reserved, zero in v1]
    47     1     reserved, zero
    48     ...   session id, node id (ASCII)
    ...    12·K  keypoints: K × (x, y, confidence) float32, image pixels
    ...    ...   JPEG bytes
    ...    M     person mask: an 8-bit grayscale PNG, 0 = background, 255 = person, at
                 most 128 px on its long side with the frame's aspect (protocol.masks)
    end-4  4     CRC-32 of everything before it

Version 1 is version 2 without a mask (its bytes 45-47 are zero), so a v1 packet
decodes with ``mask`` None; a v2 packet is refused by a v1 reader (update the cloud
before the nodes). The mask is typically 0.3-2 KB of the 128 KiB.

A packet never exceeds :data:`MAX_PACKET_BYTES` (128 KiB, the AWS IoT Core payload
limit), so every broker carries it. :func:`decode_packet` raises only
:class:`~protocol.errors.PacketError`, whatever bytes it is given.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from protocol.errors import MaskError, PacketError
from protocol.ids import ID_PATTERN
from protocol.masks import decode_mask
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

MAGIC: Final = b"DBFP"
PACKET_VERSION: Final = 2
READABLE_VERSIONS: Final = (1, 2)
MAX_MASK_BYTES: Final = 32 * 1024  # a 128 x 128 mask is 16 KiB even uncompressed
# What a node keeps free for the mask when it sizes the JPEG: a person's mask is 0.3-2 KB
# at 128 px; a node sends a mask that does not fit in this room without it (counted).
MASK_ROOM_BYTES: Final = 8 * 1024
MAX_PACKET_BYTES: Final = 128 * 1024
MAX_DIMENSION: Final = 8192
# Keypoints may sit a little outside the frame (a hand leaving the view) but never absurdly.
MAX_ABS_COORD: Final = 65536.0

FLAG_SMOOTHED: Final = 0x01  # keypoints passed the online smoother
FLAG_OFFLINE: Final = 0x02  # keypoints come from the offline (zero-lag) pass
FLAG_RESENT: Final = 0x04  # re-published on a resend request
_KNOWN_FLAGS: Final = FLAG_SMOOTHED | FLAG_OFFLINE | FLAG_RESENT

_HEADER: Final = struct.Struct("<4sBBBBBBHIQQHHIIBHB")
HEADER_BYTES: Final = _HEADER.size
_CRC: Final = struct.Struct("<I")
_ID_RE: Final = re.compile(ID_PATTERN.encode())
_JPEG_SOI: Final = b"\xff\xd8"
_JPEG_EOI: Final = b"\xff\xd9"

FloatArray = npt.NDArray[np.float32]


def _empty_extras() -> FloatArray:
    return np.zeros((0, 3), dtype=np.float32)


@dataclass(eq=False)
class FramePacket:
    """One frame as it travels from a node to the cloud."""

    session: str
    node: str
    seq: int
    capture_ns: int
    width: int
    height: int
    keypoints: FloatArray  # [17, 3]: x, y, confidence
    jpeg: bytes
    extras: FloatArray = field(default_factory=_empty_extras)  # [0 or 4, 3]
    imputed: int = 0  # bit mask over keypoints then extras
    ready_ns: int = 0
    flags: int = 0
    people: int = 1
    mask: bytes | None = None  # the person mask's PNG (protocol.masks); None: no mask

    def imputed_joints(self) -> list[int]:
        n = NUM_KEYPOINTS + len(self.extras)
        return [i for i in range(n) if self.imputed >> i & 1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FramePacket):
            return NotImplemented
        return encode_packet(self) == encode_packet(other)


def jpeg_looks_valid(data: bytes) -> bool:
    """The cheap structural check the codec applies to embedded JPEGs (SOI ... EOI)."""
    return len(data) >= 4 and data[:2] == _JPEG_SOI and data[-2:] == _JPEG_EOI


def _check_fields(p: FramePacket) -> tuple[bytes, bytes, FloatArray]:
    try:
        sess, node = p.session.encode("ascii"), p.node.encode("ascii")
    except (UnicodeEncodeError, AttributeError) as exc:
        raise PacketError(f"session and node ids must be ASCII strings: {exc}") from exc
    for name, raw in (("session id", sess), ("node id", node)):
        if not _ID_RE.match(raw):
            raise PacketError(f"invalid {name} {raw!r}")
    if not 0 <= p.seq < 2**32:
        raise PacketError(f"sequence number {p.seq} out of range")
    if not (0 <= p.capture_ns < 2**63 and 0 <= p.ready_ns < 2**63):
        raise PacketError("timestamps must be non-negative 63-bit ns values")
    if not (1 <= p.width <= MAX_DIMENSION and 1 <= p.height <= MAX_DIMENSION):
        raise PacketError(f"image size {p.width}x{p.height} out of range")
    if p.flags & ~_KNOWN_FLAGS or not 0 <= p.flags < 256:
        raise PacketError(f"unknown flags {p.flags:#x}")
    if not 0 <= p.people < 256:
        raise PacketError(f"people count {p.people} out of range")
    kps = np.asarray(p.keypoints, dtype=np.float32)
    extras = np.asarray(p.extras, dtype=np.float32).reshape(-1, 3)
    if kps.shape != (NUM_KEYPOINTS, 3):
        raise PacketError(f"keypoints must be [{NUM_KEYPOINTS}, 3], got {kps.shape}")
    if len(extras) not in (0, NUM_EXTRA_KEYPOINTS):
        raise PacketError(f"extras must be 0 or {NUM_EXTRA_KEYPOINTS} keypoints")
    allk = np.concatenate([kps, extras])
    _check_keypoints(allk)
    if p.imputed < 0 or p.imputed >> len(allk):
        raise PacketError("imputed mask names joints that are not in the packet")
    if not jpeg_looks_valid(p.jpeg):
        raise PacketError("image is not a JPEG (missing SOI/EOI markers)")
    if p.mask is not None:
        _check_mask(p.mask, p.width, p.height)
    return sess, node, allk


def _check_mask(mask: bytes, width: int, height: int) -> None:
    if not isinstance(mask, bytes) or not 0 < len(mask) <= MAX_MASK_BYTES:
        size = len(mask) if isinstance(mask, bytes) else type(mask).__name__
        raise PacketError(f"person mask must be 1-{MAX_MASK_BYTES} bytes of PNG, got {size}")
    try:
        decode_mask(mask, width, height)
    except MaskError as exc:
        raise PacketError(f"person mask: {exc}") from exc


def _check_keypoints(allk: FloatArray) -> None:
    if not np.isfinite(allk).all():
        raise PacketError("keypoints contain NaN or infinity")
    if (np.abs(allk[:, :2]) > MAX_ABS_COORD).any():
        raise PacketError("keypoint coordinates out of range")
    conf = allk[:, 2]
    if ((conf < 0) | (conf > 1)).any():
        raise PacketError("keypoint confidences must lie in [0, 1]")


def encode_packet(p: FramePacket) -> bytes:
    """Serialise a packet; raise :class:`PacketError` if it breaks any limit."""
    sess, node, allk = _check_fields(p)
    mask = p.mask or b""
    header = _HEADER.pack(
        MAGIC, PACKET_VERSION, p.flags, NUM_KEYPOINTS, len(allk) - NUM_KEYPOINTS,
        len(sess), len(node), 0, p.seq, p.capture_ns, p.ready_ns, p.width, p.height,
        p.imputed, len(p.jpeg), p.people, len(mask), 0,
    )  # fmt: skip
    body = b"".join((header, sess, node, allk.astype("<f4").tobytes(), p.jpeg, mask))
    size = len(body) + _CRC.size
    if size > MAX_PACKET_BYTES:
        raise PacketError(
            f"packet of {size} bytes exceeds {MAX_PACKET_BYTES}: lower the JPEG quality or size"
        )
    return body + _CRC.pack(zlib.crc32(body))


def decode_packet(data: bytes | bytearray | memoryview) -> FramePacket:
    """Parse and fully validate a packet. Raises only :class:`PacketError`."""
    try:
        return _decode(bytes(data))
    except PacketError:
        raise
    except Exception as exc:  # a bug here must still surface as the codec's error
        raise PacketError(f"malformed packet: {exc!r}") from exc


def _decode(data: bytes) -> FramePacket:
    if len(data) > MAX_PACKET_BYTES:
        raise PacketError(f"packet of {len(data)} bytes exceeds {MAX_PACKET_BYTES}")
    if len(data) < HEADER_BYTES + _CRC.size:
        raise PacketError(f"packet of {len(data)} bytes is shorter than a header")
    fields = _HEADER.unpack_from(data)
    (magic, version, flags, n_kp, n_extra, sess_len, node_len, reserved, seq, capture_ns,
     ready_ns, width, height, imputed, jpeg_len, people, mask_len, reserved1) = fields  # fmt: skip
    if magic != MAGIC:
        raise PacketError("not a frame packet (bad magic)")
    if version not in READABLE_VERSIONS:
        raise PacketError(
            f"unsupported packet version {version} (this side reads {READABLE_VERSIONS})"
        )
    if n_kp != NUM_KEYPOINTS or n_extra not in (0, NUM_EXTRA_KEYPOINTS):
        raise PacketError(f"wrong keypoint count {n_kp}+{n_extra}")
    if reserved or reserved1 or (version == 1 and mask_len):
        raise PacketError("reserved header bytes are not zero")
    n_all = n_kp + n_extra
    expected = HEADER_BYTES + sess_len + node_len + 12 * n_all + jpeg_len + mask_len + _CRC.size
    if len(data) != expected:
        raise PacketError(f"packet length {len(data)} does not match its header ({expected})")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(memoryview(data)[: -_CRC.size]) != crc:
        raise PacketError("checksum mismatch (corrupted packet)")
    pos = HEADER_BYTES
    sess, node = data[pos : pos + sess_len], data[pos + sess_len : pos + sess_len + node_len]
    pos += sess_len + node_len
    allk = np.frombuffer(data, dtype="<f4", count=3 * n_all, offset=pos).reshape(n_all, 3)
    pos += 12 * n_all
    packet = FramePacket(
        session=sess.decode("ascii", errors="replace"),
        node=node.decode("ascii", errors="replace"),
        seq=seq,
        capture_ns=capture_ns,
        width=width,
        height=height,
        keypoints=allk[:NUM_KEYPOINTS].astype(np.float32),
        extras=allk[NUM_KEYPOINTS:].astype(np.float32),
        jpeg=data[pos : pos + jpeg_len],
        imputed=imputed,
        ready_ns=ready_ns,
        flags=flags,
        people=people,
        mask=data[pos + jpeg_len : pos + jpeg_len + mask_len] if mask_len else None,
    )
    if capture_ns >= 2**63 or ready_ns >= 2**63:
        raise PacketError("timestamps out of range")
    _check_fields(packet)
    return packet
