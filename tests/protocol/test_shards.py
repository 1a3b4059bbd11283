from __future__ import annotations

import io
import tarfile

import pytest

from edge.bench.codec import sample_packet
from protocol.errors import IdentifierError, ShardError
from protocol.shards import FrameMeta, ShardWriter, read_shard, shard_bytes, shard_key


def frames(n: int) -> list[tuple[FrameMeta, bytes]]:
    out = []
    for seq in range(n):
        p = sample_packet(seq, 500)
        out.append((FrameMeta.from_packet(p), p.jpeg))
    return out


def test_round_trip_in_order() -> None:
    src = frames(5)
    got = list(read_shard(shard_bytes(src)))
    assert [m.seq for m, _ in got] == [0, 1, 2, 3, 4]
    assert got == src


def test_member_names_are_the_sequence_numbers(tmp_path: object) -> None:
    data = shard_bytes(frames(2))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["000000.jpg", "000000.json", "000001.jpg", "000001.json"]


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_malformed_shards_are_refused() -> None:
    meta, jpeg = frames(1)[0]
    good_json = meta.model_dump_json().encode()
    bad = [
        b"not a tar at all",
        _tar([("000000.jpg", jpeg)]),
        _tar([("000000.json", good_json)]),
        _tar([("000000.jpg", b"png!"), ("000000.json", good_json)]),
        _tar([("000000.jpg", jpeg), ("000001.json", good_json)]),
        _tar([("000000.jpg", jpeg), ("000000.json", b"{}")]),
        _tar([("000001.jpg", jpeg), ("000001.json", good_json)]),
        shard_bytes(frames(3))[:2000],
    ]
    for data in bad:
        with pytest.raises(ShardError):
            list(read_shard(data))


def test_writer_to_file(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "s.tar"  # type: ignore[operator]
    with ShardWriter(path) as w:
        for meta, jpeg in frames(3):
            w.add(meta, jpeg)
    assert w.count == 3
    assert len(list(read_shard(path))) == 3


def test_shard_keys() -> None:
    assert shard_key("s1", "n1", 3) == "sessions/s1/n1/shard-000003.tar"
    with pytest.raises(IdentifierError):
        shard_key("..", "n1", 0)
    with pytest.raises(ShardError):
        shard_key("s1", "n1", -1)
