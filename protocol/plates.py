"""The clean plate on the wire: one JPEG of the empty booth, sent in chunks with a session.

Why chunks on the node's own ``plate/{session}`` topic (see :mod:`protocol.topics`): a
plate is a full camera-resolution JPEG, 100-300 KB at 720p, more at 1080p, and every
message must stay under :data:`~protocol.codec.MAX_PACKET_BYTES` (128 KiB, the AWS IoT
Core payload limit and the reason Mosquitto's ``message_size_limit`` is 140000), so a
broker-wide bigger limit is not an option. A dedicated HTTP upload would need a second
set of node credentials and a second store-and-forward path; chunks reuse the node's
MQTT account, its ACL line (``{prefix}/{booth}/node/{node}/#``, nothing to add), QoS 1
with a PUBACK per chunk, and the uploader's validate → store → acknowledge loop. Each
chunk names its plate (``taken_ns``), its index and the count, and carries a CRC of the
whole JPEG, so a receiver can store chunks as they come (from any uploader of a shared
subscription) and assemble the plate once all are in.

Layout (little-endian), version 1::

    offset size  field
    0      4     magic b"DBPL"
    4      1     version (1)
    5      1     flags (FLAG_*)
    6      1     session id length
    7      1     node id length
    8      2     chunk index
    10     2     chunk count
    12     8     taken_ns: when the plate was taken, ns since the Unix epoch
    20     2     plate width
    22     2     plate height
    24     4     JPEG length (whole plate)
    28     4     CRC-32 of the whole JPEG
    32     4     chunk length
    36     ...   session id, node id (ASCII)
    ...    ...   chunk bytes
    end-4  4     CRC-32 of everything before it

:func:`decode_plate_chunk` raises only :class:`~protocol.errors.PlateError`.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import Final

from protocol.codec import MAX_DIMENSION, MAX_PACKET_BYTES, jpeg_looks_valid
from protocol.errors import PlateError
from protocol.ids import ID_PATTERN

MAGIC: Final = b"DBPL"
PLATE_VERSION: Final = 1
CHUNK_BYTES: Final = 96 * 1024  # payload per chunk: header + ids + CRC stay far under 128 KiB
MAX_PLATE_BYTES: Final = 8 * 1024 * 1024  # a 4K JPEG at high quality is ~3 MB
MAX_CHUNKS: Final = -(-MAX_PLATE_BYTES // CHUNK_BYTES)

FLAG_PERSON: Final = 0x01  # the node saw a person in the plate: the operator should retake it
FLAG_OPERATOR: Final = 0x02  # taken on the operator's request (else: automatically)
_KNOWN_FLAGS: Final = FLAG_PERSON | FLAG_OPERATOR

_HEADER: Final = struct.Struct("<4sBBBBHHQHHIII")
_CRC: Final = struct.Struct("<I")
_ID_RE: Final = re.compile(ID_PATTERN.encode())


@dataclass(frozen=True)
class PlateChunk:
    """One piece of a plate JPEG, and everything needed to put the plate together."""

    session: str
    node: str
    taken_ns: int
    width: int
    height: int
    index: int
    count: int
    total_bytes: int
    jpeg_crc: int
    data: bytes
    flags: int = 0

    @property
    def person(self) -> bool:
        return bool(self.flags & FLAG_PERSON)


def split_plate(
    session: str, node: str, jpeg: bytes, width: int, height: int, taken_ns: int, flags: int = 0
) -> list[PlateChunk]:
    """The chunks of a plate JPEG (at most :data:`CHUNK_BYTES` of it each)."""
    if not jpeg_looks_valid(jpeg):
        raise PlateError("the plate is not a JPEG (missing SOI/EOI markers)")
    if len(jpeg) > MAX_PLATE_BYTES:
        raise PlateError(f"plate of {len(jpeg)} bytes exceeds {MAX_PLATE_BYTES}: lower its quality")
    crc = zlib.crc32(jpeg)
    pieces = [jpeg[i : i + CHUNK_BYTES] for i in range(0, len(jpeg), CHUNK_BYTES)]
    return [
        PlateChunk(
            session, node, taken_ns, width, height, i, len(pieces), len(jpeg), crc, piece, flags
        )
        for i, piece in enumerate(pieces)
    ]


def join_plate(chunks: list[PlateChunk]) -> bytes:
    """The JPEG from all of its chunks (any order); raise :class:`PlateError` if one is
    missing, they are of different plates, or the result fails its CRC."""
    if not chunks:
        raise PlateError("no chunks")
    first = chunks[0]
    by_index = {c.index: c for c in chunks}
    if any((c.taken_ns, c.count, c.jpeg_crc) != (first.taken_ns, first.count, first.jpeg_crc)
           for c in chunks):  # fmt: skip
        raise PlateError("chunks of different plates")
    missing = set(range(first.count)) - set(by_index)
    if missing:
        raise PlateError(f"plate chunks missing: {sorted(missing)}")
    jpeg = b"".join(by_index[i].data for i in range(first.count))
    if len(jpeg) != first.total_bytes or zlib.crc32(jpeg) != first.jpeg_crc:
        raise PlateError("the assembled plate fails its checksum")
    return jpeg


def encode_plate_chunk(c: PlateChunk) -> bytes:
    sess, node = _check(c)
    header = _HEADER.pack(
        MAGIC, PLATE_VERSION, c.flags, len(sess), len(node), c.index, c.count, c.taken_ns,
        c.width, c.height, c.total_bytes, c.jpeg_crc, len(c.data),
    )  # fmt: skip
    body = b"".join((header, sess, node, c.data))
    return body + _CRC.pack(zlib.crc32(body))


def decode_plate_chunk(data: bytes | bytearray | memoryview) -> PlateChunk:
    """Parse and validate one chunk. Raises only :class:`PlateError`."""
    try:
        return _decode(bytes(data))
    except PlateError:
        raise
    except Exception as exc:
        raise PlateError(f"malformed plate chunk: {exc!r}") from exc


def _decode(data: bytes) -> PlateChunk:
    if len(data) > MAX_PACKET_BYTES:
        raise PlateError(f"plate chunk of {len(data)} bytes exceeds {MAX_PACKET_BYTES}")
    if len(data) < _HEADER.size + _CRC.size:
        raise PlateError(f"plate chunk of {len(data)} bytes is shorter than a header")
    (magic, version, flags, sess_len, node_len, index, count, taken_ns, width, height,
     total, jpeg_crc, n) = _HEADER.unpack_from(data)  # fmt: skip
    if magic != MAGIC:
        raise PlateError("not a plate chunk (bad magic)")
    if version != PLATE_VERSION:
        raise PlateError(f"unsupported plate version {version} (this side speaks 1)")
    expected = _HEADER.size + sess_len + node_len + n + _CRC.size
    if len(data) != expected:
        raise PlateError(f"plate chunk length {len(data)} does not match its header ({expected})")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(memoryview(data)[: -_CRC.size]) != crc:
        raise PlateError("checksum mismatch (corrupted plate chunk)")
    pos = _HEADER.size
    chunk = PlateChunk(
        session=data[pos : pos + sess_len].decode("ascii", errors="replace"),
        node=data[pos + sess_len : pos + sess_len + node_len].decode("ascii", errors="replace"),
        taken_ns=taken_ns,
        width=width,
        height=height,
        index=index,
        count=count,
        total_bytes=total,
        jpeg_crc=jpeg_crc,
        data=data[pos + sess_len + node_len : -_CRC.size],
        flags=flags,
    )
    _check(chunk)
    return chunk


def _check(c: PlateChunk) -> tuple[bytes, bytes]:
    try:
        sess, node = c.session.encode("ascii"), c.node.encode("ascii")
    except (UnicodeEncodeError, AttributeError) as exc:
        raise PlateError(f"session and node ids must be ASCII strings: {exc}") from exc
    for name, raw in (("session id", sess), ("node id", node)):
        if not _ID_RE.match(raw):
            raise PlateError(f"invalid {name} {raw!r}")
    if not (1 <= c.width <= MAX_DIMENSION and 1 <= c.height <= MAX_DIMENSION):
        raise PlateError(f"plate size {c.width}x{c.height} out of range")
    if not 0 < c.taken_ns < 2**63:
        raise PlateError("taken_ns must be a positive 63-bit ns time")
    if not 1 <= c.count <= MAX_CHUNKS or not 0 <= c.index < c.count:
        raise PlateError(f"chunk {c.index} of {c.count} out of range (at most {MAX_CHUNKS})")
    if not 0 < c.total_bytes <= MAX_PLATE_BYTES:
        raise PlateError(f"plate of {c.total_bytes} bytes out of range")
    if not 0 < len(c.data) <= CHUNK_BYTES:
        raise PlateError(f"chunk of {len(c.data)} bytes (1-{CHUNK_BYTES} allowed)")
    if c.flags & ~_KNOWN_FLAGS or not 0 <= c.flags < 256:
        raise PlateError(f"unknown flags {c.flags:#x}")
    if not 0 <= c.jpeg_crc < 2**32:
        raise PlateError("jpeg CRC out of range")
    return sess, node
