"""The clean plate's chunk codec: round trip, limits, and errors of one type."""

from __future__ import annotations

import os
import zlib

import pytest

from protocol.codec import MAX_PACKET_BYTES
from protocol.errors import PlateError
from protocol.plates import (
    CHUNK_BYTES,
    FLAG_PERSON,
    decode_plate_chunk,
    encode_plate_chunk,
    join_plate,
    split_plate,
)
from protocol.topics import Topics

JPEG = b"\xff\xd8" + os.urandom(250_000) + b"\xff\xd9"  # a 720p plate's size


def test_a_plate_travels_in_chunks_under_the_packet_limit_and_joins_back() -> None:
    chunks = split_plate("s1", "n1", JPEG, 1280, 720, 1_700_000_000_000_000_000, FLAG_PERSON)
    assert len(chunks) == -(-len(JPEG) // CHUNK_BYTES) == 3
    wire = [encode_plate_chunk(c) for c in chunks]
    assert all(len(w) <= MAX_PACKET_BYTES for w in wire)
    back = [decode_plate_chunk(w) for w in reversed(wire)]
    assert back[0].person and back[0].width == 1280 and back[0].session == "s1"
    assert join_plate(back) == JPEG


def test_missing_corrupt_and_mixed_chunks_are_refused() -> None:
    chunks = split_plate("s1", "n1", JPEG, 1280, 720, 1)
    with pytest.raises(PlateError, match=r"missing: \[1\]"):
        join_plate([chunks[0], chunks[2]])
    other = split_plate("s1", "n1", JPEG[:-3] + b"x\xff\xd9", 1280, 720, 2)
    with pytest.raises(PlateError, match="different plates"):
        join_plate([chunks[0], other[1], chunks[2]])
    wire = bytearray(encode_plate_chunk(chunks[1]))
    wire[50] ^= 0xFF
    with pytest.raises(PlateError, match="checksum"):
        decode_plate_chunk(bytes(wire))
    for junk in (b"", b"DBPL" + b"\0" * 60, os.urandom(200), b"x" * (MAX_PACKET_BYTES + 1)):
        with pytest.raises(PlateError):
            decode_plate_chunk(junk)
    with pytest.raises(PlateError, match="not a JPEG"):
        split_plate("s1", "n1", b"png?", 10, 10, 1)
    assert zlib.crc32(JPEG) == chunks[0].jpeg_crc


def test_the_plate_topic_is_a_session_channel_under_the_node() -> None:
    topics = Topics()
    topic = topics.plate("b1", "n1", "s1")
    assert topic == "dancebooth/b1/node/n1/plate/s1"
    parsed = topics.parse(topic)
    assert (parsed.node, parsed.session, parsed.channel.value if parsed.channel else "") == (
        "n1",
        "s1",
        "plate",
    )
