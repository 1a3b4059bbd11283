from __future__ import annotations

import io
import tarfile

import cv2
import numpy as np
import pytest

from edge.bench.codec import sample_packet
from protocol.errors import IdentifierError, ShardError
from protocol.masks import encode_mask
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
    assert [m.seq for m, *_ in got] == [0, 1, 2, 3, 4]
    assert [(m, j) for m, j, _ in got] == src
    assert all(mask is None for *_, mask in got)


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


def _mask(seq: int, width: int = 640, height: int = 480) -> np.ndarray:
    from protocol.masks import mask_shape

    m = np.zeros(mask_shape(width, height), np.uint8)
    m[10 + seq : 60, 30:70] = 255
    m[9 + seq, 30:70] = 128  # a soft edge
    return m


def test_masks_round_trip_and_frames_without_one_read_as_none() -> None:
    src = frames(4)
    assert (src[0][0].width, src[0][0].height) == (640, 480)
    masks = [_mask(0), None, _mask(2), encode_mask(_mask(3))]  # arrays or their PNG
    data = shard_bytes([(m, j, k) for (m, j), k in zip(src, masks, strict=True)])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames()[:4] == ["000000.jpg", "000000.mask.png", "000000.json", "000001.jpg"]
    got = list(read_shard(data))
    assert [(f.meta, f.jpeg) for f in got] == src
    assert got[1].mask is None
    for i in (0, 2, 3):
        mask = got[i].mask
        assert mask is not None and mask.dtype == np.uint8
        assert np.array_equal(mask, _mask(i))


def test_old_shards_without_masks_still_read() -> None:
    meta, jpeg = frames(1)[0]
    old = _tar([("000000.jpg", jpeg), ("000000.json", meta.model_dump_json().encode())])
    (frame,) = read_shard(old)
    assert frame.meta == meta and frame.jpeg == jpeg and frame.mask is None


def test_bad_mask_members_are_shard_errors_that_name_the_member() -> None:
    meta, jpeg = frames(1)[0]
    js = meta.model_dump_json().encode()
    cases = {
        "not a PNG": b"\xff\xd8 a jpeg perhaps",
        "aspect": encode_mask(np.zeros((128, 96), np.uint8)),  # portrait mask, landscape frame
        "long side": cv2.imencode(".png", np.zeros((150, 200), np.uint8))[1].tobytes(),
        "grayscale": cv2.imencode(".png", np.zeros((96, 128, 3), np.uint8))[1].tobytes(),
    }
    for why, png in cases.items():
        with pytest.raises(ShardError, match=f"000000.mask.png.*{why}"):
            list(
                read_shard(
                    _tar([("000000.jpg", jpeg), ("000000.mask.png", png), ("000000.json", js)])
                )
            )
    good = encode_mask(_mask(0))
    out_of_order = [
        _tar([("000000.mask.png", good), ("000000.jpg", jpeg), ("000000.json", js)]),
        _tar([("000000.jpg", jpeg), ("000000.json", js), ("000000.mask.png", good)]),
        _tar(
            [
                ("000000.jpg", jpeg),
                ("000000.mask.png", good),
                ("000000.mask.png", good),
                ("000000.json", js),
            ]
        ),
        _tar([("000000.jpg", jpeg), ("000001.mask.png", good), ("000000.json", js)]),
    ]
    for data in out_of_order:
        with pytest.raises(ShardError, match="unexpected member"):
            list(read_shard(data))


def test_the_writer_refuses_a_mask_the_reader_would_refuse() -> None:
    meta, jpeg = frames(1)[0]
    for bad in (np.zeros((128, 96), np.uint8), b"not a png", np.zeros((96, 128), np.float32)):
        with pytest.raises(ShardError, match="frame 0"):
            shard_bytes([(meta, jpeg, bad)])
