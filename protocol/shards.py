"""The one on-disk shard format for captured frames, written by the uploader and the
synthetic booth and read by the trainer.

A shard is a POSIX tar (WebDataset style) holding, per frame, in this order:

- ``NNNNNN.jpg``: the JPEG exactly as captured;
- ``NNNNNN.mask.png`` (optional): the person mask, an 8-bit grayscale PNG, 0 =
  background, 255 = person, at most 128 px on its long side with the frame's aspect
  (:mod:`protocol.masks`). Absent when the node sent none (old nodes, no dancer found);
- ``NNNNNN.json``: a :class:`FrameMeta`;

where NNNNNN is the zero-padded sequence number. Members of one frame are adjacent and
``.json`` comes last. Shards hold frames of one (session, node). :func:`read_shard`
yields a :class:`ShardFrame` ``(meta, jpeg, mask)`` per frame, ``mask`` a decoded
``uint8 [h, w]`` array or None; shards written before masks existed read unchanged.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Annotated, BinaryIO, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.codec import FramePacket, jpeg_looks_valid
from protocol.errors import MaskError, ShardError
from protocol.ids import Identifier, check_id
from protocol.masks import Mask, decode_mask, encode_mask
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


class ShardFrame(NamedTuple):
    """One frame of a shard as :func:`read_shard` yields it."""

    meta: FrameMeta
    jpeg: bytes
    mask: Mask | None = None  # uint8 [h, w], 0 = background, 255 = person


def member_stem(seq: int) -> str:
    return f"{seq:06d}"


MASK_SUFFIX = ".mask.png"


def _mask_png(meta: FrameMeta, mask: Mask | bytes) -> bytes:
    """The PNG member for ``mask`` (an array, or PNG bytes as a packet carries them),
    checked so that no shard is written that the reader refuses."""
    try:
        if isinstance(mask, bytes):
            decode_mask(mask, meta.width, meta.height)
            return mask
        png = encode_mask(mask)
        decode_mask(png, meta.width, meta.height)
        return png
    except MaskError as exc:
        raise ShardError(f"frame {meta.seq}: {exc}") from exc


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

    def add(self, meta: FrameMeta, jpeg: bytes, mask: Mask | bytes | None = None) -> None:
        """Append one frame; ``mask`` is a ``uint8 [h, w]`` array or its PNG (None: no mask)."""
        stem = member_stem(meta.seq)
        mtime = meta.capture_ns / 1e9
        png = None if mask is None else _mask_png(meta, mask)
        self._add(f"{stem}.jpg", jpeg, mtime)
        if png is not None:
            self._add(f"{stem}{MASK_SUFFIX}", png, mtime)
        self._add(f"{stem}.json", meta.model_dump_json(exclude_none=True).encode(), mtime)
        self.count += 1

    def add_packet(self, packet: FramePacket) -> None:
        self.add(FrameMeta.from_packet(packet), packet.jpeg, packet.mask)

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FrameRecord = tuple[FrameMeta, bytes] | tuple[FrameMeta, bytes, Mask | bytes | None]


def write_shard(target: str | Path | BinaryIO, frames: Iterable[FrameRecord]) -> int:
    """Write ``(meta, jpeg)`` or ``(meta, jpeg, mask)`` frames (a :class:`ShardFrame` is one)."""
    with ShardWriter(target) as w:
        for meta, jpeg, *mask in frames:
            w.add(meta, jpeg, mask[0] if mask else None)
        return w.count


def shard_bytes(frames: Iterable[FrameRecord]) -> bytes:
    buf = io.BytesIO()
    write_shard(buf, frames)
    return buf.getvalue()


def read_shard(source: str | Path | bytes | IO[bytes]) -> Iterator[ShardFrame]:
    """Yield ``(meta, jpeg, mask)`` per frame; raise :class:`ShardError` on anything malformed."""
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


def _frames(tar: tarfile.TarFile) -> Iterator[ShardFrame]:
    jpg: tuple[str, bytes] | None = None  # a .jpg waiting for its .json
    png: bytes | None = None  # its .mask.png, if any
    for info in tar:
        if not info.isfile() or info.size > MAX_MEMBER_BYTES:
            raise ShardError(f"unexpected member {info.name!r}")
        is_mask = info.name.endswith(MASK_SUFFIX)
        if is_mask:
            stem, ext = info.name.removesuffix(MASK_SUFFIX), "mask.png"
        else:
            stem, _, ext = info.name.rpartition(".")
        f = tar.extractfile(info)
        assert f is not None  # isfile() above
        data = f.read()
        if ext == "jpg" and jpg is None:
            if not jpeg_looks_valid(data):
                raise ShardError(f"{info.name} is not a JPEG")
            jpg = (stem, data)
            continue
        if is_mask and jpg is not None and jpg[0] == stem and png is None:
            png = data
            continue
        if ext != "json" or jpg is None or jpg[0] != stem:
            raise ShardError(
                f"unexpected member {info.name!r}: frames are .jpg, optional .mask.png, then .json"
            )
        meta = _meta(info.name, data)
        if member_stem(meta.seq) != stem:
            raise ShardError(f"{info.name} holds seq {meta.seq}")
        yield ShardFrame(meta, jpg[1], None if png is None else _read_mask(stem, png, meta))
        jpg, png = None, None
    if jpg is not None:
        raise ShardError(f"{jpg[0]}.jpg has no matching .json")


def _meta(name: str, data: bytes) -> FrameMeta:
    try:
        return FrameMeta.model_validate_json(data)
    except ValidationError as exc:
        raise ShardError(f"{name}: {exc.errors()[0]['msg']}") from exc


def _read_mask(stem: str, png: bytes, meta: FrameMeta) -> Mask:
    try:
        return decode_mask(png, meta.width, meta.height)
    except MaskError as exc:
        raise ShardError(f"{stem}{MASK_SUFFIX} is not a usable person mask: {exc}") from exc


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
