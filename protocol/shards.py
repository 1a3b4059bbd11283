"""The one on-disk shard format for captured frames, written by the uploader and the
synthetic booth and read by the trainer.

A shard is a POSIX tar (WebDataset style) holding, per frame, ``NNNNNN.jpg`` (the
JPEG exactly as captured) and ``NNNNNN.json`` (a :class:`FrameMeta`), where NNNNNN is
the zero-padded sequence number. Members of one frame are adjacent, ``.json`` after
``.jpg``. Shards hold frames of one (session, node).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Annotated, BinaryIO

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.codec import FramePacket, jpeg_looks_valid
from protocol.errors import ShardError
from protocol.ids import Identifier, check_id
from protocol.skeleton import NUM_KEYPOINTS

Point = tuple[float, float, float]
MAX_MEMBER_BYTES = 16 * 1024 * 1024


class FrameMeta(BaseModel):
    """Everything about a frame except its pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = 1
    session: Identifier
    node: Identifier
    seq: Annotated[int, Field(ge=0, lt=2**32)]
    capture_ns: Annotated[int, Field(ge=0)]
    ready_ns: Annotated[int, Field(ge=0)] = 0
    width: Annotated[int, Field(ge=1, le=8192)]
    height: Annotated[int, Field(ge=1, le=8192)]
    keypoints: Annotated[list[Point], Field(min_length=NUM_KEYPOINTS, max_length=NUM_KEYPOINTS)]
    extras: Annotated[list[Point], Field(max_length=4)] = []
    imputed: list[int] = []
    flags: int = 0
    people: int = 1
    # Ground-truth keypoints, present only in synthetic corpora (for measuring).
    truth: Annotated[list[Point], Field(max_length=NUM_KEYPOINTS)] | None = None

    @classmethod
    def from_packet(cls, p: FramePacket) -> FrameMeta:
        return cls(
            session=p.session,
            node=p.node,
            seq=p.seq,
            capture_ns=p.capture_ns,
            ready_ns=p.ready_ns,
            width=p.width,
            height=p.height,
            # tolist() yields Python floats directly, ~10x faster than per-element float().
            keypoints=[tuple(k) for k in np.asarray(p.keypoints, dtype=np.float64).tolist()],
            extras=[tuple(k) for k in np.asarray(p.extras, dtype=np.float64).tolist()],
            imputed=p.imputed_joints(),
            flags=p.flags,
            people=p.people,
        )

    def keypoints_array(self) -> np.ndarray:
        return np.asarray(self.keypoints, dtype=np.float32)


def member_stem(seq: int) -> str:
    return f"{seq:06d}"


class ShardWriter:
    """Appends frames to one tar shard. Use as a context manager."""

    def __init__(self, target: str | Path | BinaryIO) -> None:
        if isinstance(target, str | Path):
            self._tar = tarfile.open(target, mode="w", format=tarfile.PAX_FORMAT)
        else:
            self._tar = tarfile.open(fileobj=target, mode="w", format=tarfile.PAX_FORMAT)
        self.count = 0

    def _add(self, name: str, data: bytes, mtime: float) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(mtime)
        info.mode = 0o644
        self._tar.addfile(info, io.BytesIO(data))

    def add(self, meta: FrameMeta, jpeg: bytes) -> None:
        stem = member_stem(meta.seq)
        mtime = meta.capture_ns / 1e9
        self._add(f"{stem}.jpg", jpeg, mtime)
        self._add(f"{stem}.json", meta.model_dump_json(exclude_none=True).encode(), mtime)
        self.count += 1

    def add_packet(self, packet: FramePacket) -> None:
        self.add(FrameMeta.from_packet(packet), packet.jpeg)

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_shard(target: str | Path | BinaryIO, frames: Iterable[tuple[FrameMeta, bytes]]) -> int:
    with ShardWriter(target) as w:
        for meta, jpeg in frames:
            w.add(meta, jpeg)
        return w.count


def shard_bytes(frames: Iterable[tuple[FrameMeta, bytes]]) -> bytes:
    buf = io.BytesIO()
    write_shard(buf, frames)
    return buf.getvalue()


def read_shard(source: str | Path | bytes | IO[bytes]) -> Iterator[tuple[FrameMeta, bytes]]:
    """Yield ``(meta, jpeg)`` per frame; raise :class:`ShardError` on anything malformed."""
    try:
        if isinstance(source, bytes):
            tar = tarfile.open(fileobj=io.BytesIO(source), mode="r:")
        elif isinstance(source, str | Path):
            tar = tarfile.open(source, mode="r:")
        else:
            tar = tarfile.open(fileobj=source, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise ShardError(f"not a readable tar shard: {exc}") from exc
    with tar:
        try:
            yield from _frames(tar)
        except tarfile.TarError as exc:
            raise ShardError(f"corrupt shard: {exc}") from exc


def _frames(tar: tarfile.TarFile) -> Iterator[tuple[FrameMeta, bytes]]:
    pending: tuple[str, bytes] | None = None  # a .jpg waiting for its .json
    for info in tar:
        if not info.isfile() or info.size > MAX_MEMBER_BYTES:
            raise ShardError(f"unexpected member {info.name!r}")
        stem, _, ext = info.name.rpartition(".")
        f = tar.extractfile(info)
        assert f is not None  # isfile() above
        data = f.read()
        if ext == "jpg" and pending is None:
            if not jpeg_looks_valid(data):
                raise ShardError(f"{info.name} is not a JPEG")
            pending = (stem, data)
            continue
        if ext != "json" or pending is None or pending[0] != stem:
            raise ShardError(f"unexpected member {info.name!r}: frames are .jpg then .json")
        try:
            meta = FrameMeta.model_validate_json(data)
        except ValidationError as exc:
            raise ShardError(f"{info.name}: {exc.errors()[0]['msg']}") from exc
        if member_stem(meta.seq) != stem:
            raise ShardError(f"{info.name} holds seq {meta.seq}")
        yield meta, pending[1]
        pending = None
    if pending is not None:
        raise ShardError(f"{pending[0]}.jpg has no matching .json")


def session_prefix(session: str) -> str:
    """Object-store prefix holding everything captured for a session."""
    return f"sessions/{check_id(session, 'session id')}/"


def shard_key(session: str, node: str, index: int) -> str:
    """The one place shard names are built: ``sessions/{session}/{node}/shard-NNNNNN.tar``.

    Used by the uploader (object store keys) and the synthetic corpus (file paths).
    """
    if not 0 <= index < 10**6:
        raise ShardError(f"shard index {index} out of range")
    return f"{session_prefix(session)}{check_id(node, 'node id')}/shard-{index:06d}.tar"
