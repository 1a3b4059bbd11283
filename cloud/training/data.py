"""Training data: a session's shards turned into in-memory tensors, once.

Per (session, node) clip the dancer's framing is chosen once — a square around the
union of their keypoints over the whole clip, padded — so the crop never jitters
from frame to frame. Every JPEG is decoded once, cropped, resized and kept as uint8;
pose maps are drawn at the training resolution from the transformed keypoints (also
mirrored, for flip augmentation: a mirrored pose map must swap left/right colours,
so it is redrawn, not flipped). A fixed, evenly spread subset is held out.

Person masks (the shards' optional ``NNNNNN.mask.png``, see :mod:`protocol.shards`) are
cut to the same window and resized to the same resolution as the image:
``FrameSet.masks [N, 1, R, R]`` uint8 (255 = person), with ``FrameSet.has_mask [N]``
False — and an all-zero mask — for frames stored without one (old nodes, nobody
found), which train full-frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch

from cloud.training.errors import DataError, NoDancerError
from cloud.training.framing import MIN_JOINTS, Framing, FramingError
from common.posemap import DEFAULT_MIN_CONF, pose_map
from protocol.errors import ShardError
from protocol.masks import Mask
from protocol.shards import ShardFrame, read_shard
from protocol.skeleton import flip_keypoints

logger = logging.getLogger(__name__)

ShardSource = str | Path | bytes
ProgressFn = Callable[[int, int], None]  # (done, total)
MIN_FRAMES = 4


def dancer_box(kps: npt.NDArray[np.float32], resolution: int, *, pad: float = 0.12) -> list[int]:
    """The dancer's region in crop pixels: confident joints' box grown by ``pad`` of the
    crop (joints are inside the body; hair, hands and shoes are not)."""
    ok = kps[:, 2] >= DEFAULT_MIN_CONF
    if not ok.any():
        return [0, 0, resolution, resolution]
    lo, hi = kps[ok, :2].min(axis=0), kps[ok, :2].max(axis=0)
    margin = pad * resolution
    box = [lo[0] - margin, lo[1] - margin, hi[0] + margin + 1, hi[1] + margin + 1]
    return [int(np.clip(round(v), 0, resolution)) for v in box]


def read_frames(sources: Iterable[ShardSource]) -> list[ShardFrame]:
    """Every frame ``(meta, jpeg, mask)`` of the given shards, ordered by (node, seq);
    duplicates dropped."""
    seen: dict[tuple[str, int], ShardFrame] = {}
    for source in sources:
        name = source if not isinstance(source, bytes) else f"<{len(source)} bytes>"
        try:
            for frame in read_shard(source):
                seen.setdefault((frame.meta.node, frame.meta.seq), frame)
        except ShardError as exc:
            raise DataError(f"shard {name}: {exc}") from exc
    return [seen[k] for k in sorted(seen)]


def list_shards(path: str | Path) -> list[Path]:
    """Shard files of a session directory (searched recursively), or the file itself."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"{p} is neither a shard file nor a directory of shards")
    shards = sorted(p.rglob("*.tar"))
    if not shards:
        raise DataError(f"no .tar shards under {p}")
    return shards


@dataclass
class FrameSet:
    """A session's frames as uint8 tensors ``[N, 3, R, R]`` (RGB), ready to batch."""

    resolution: int
    images: torch.Tensor
    poses: torch.Tensor
    poses_flipped: torch.Tensor
    keypoints: torch.Tensor  # [N, 17, 3] in crop pixels
    boxes: torch.Tensor  # [N, 4] dancer region (x0, y0, x1, y1) in crop pixels
    prev: torch.Tensor  # [N] index of the previous frame of the same clip (itself if first)
    seqs: list[int]
    clips: list[str]
    masks: torch.Tensor  # [N, 1, R, R] uint8 person mask, 255 = person; zeros where absent
    has_mask: torch.Tensor  # [N] bool: False = no mask stored, train full-frame

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def nbytes(self) -> int:
        return sum(
            t.numel() * t.element_size()
            for t in (self.images, self.poses, self.poses_flipped, self.masks)
        )

    def to(self, device: torch.device) -> FrameSet:
        """The pixel tensors on ``device``; keypoints, boxes and links, read on the host,
        stay there."""
        return replace(
            self,
            images=self.images.to(device),
            poses=self.poses.to(device),
            poses_flipped=self.poses_flipped.to(device),
            masks=self.masks.to(device),
        )

    def subset(self, index: Sequence[int]) -> FrameSet:
        idx = torch.as_tensor(list(index), dtype=torch.long)
        remap = {int(old): new for new, old in enumerate(idx)}
        prev = [remap.get(int(self.prev[i]), n) for n, i in enumerate(idx.tolist())]
        return FrameSet(
            self.resolution,
            self.images[idx],
            self.poses[idx],
            self.poses_flipped[idx],
            self.keypoints[idx],
            self.boxes[idx],
            torch.tensor(prev, dtype=torch.long),
            [self.seqs[i] for i in idx],
            [self.clips[i] for i in idx],
            self.masks[idx],
            self.has_mask[idx],
        )

    @staticmethod
    def concat(parts: Sequence[FrameSet]) -> FrameSet:
        if not parts:
            raise DataError("no frames to train on")
        offsets = np.cumsum([0, *[len(p) for p in parts[:-1]]])
        return FrameSet(
            parts[0].resolution,
            torch.cat([p.images for p in parts]),
            torch.cat([p.poses for p in parts]),
            torch.cat([p.poses_flipped for p in parts]),
            torch.cat([p.keypoints for p in parts]),
            torch.cat([p.boxes for p in parts]),
            torch.cat([p.prev + int(o) for p, o in zip(parts, offsets, strict=True)]),
            [s for p in parts for s in p.seqs],
            [c for p in parts for c in p.clips],
            torch.cat([p.masks for p in parts]),
            torch.cat([p.has_mask for p in parts]),
        )


def _rgb(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(bgr[..., ::-1])


def _to_tensor(rgb_images: list[npt.NDArray[np.uint8]]) -> torch.Tensor:
    return torch.from_numpy(np.stack(rgb_images)).permute(0, 3, 1, 2).contiguous()


def crop_mask(
    mask: Mask, width: int, height: int, crop: Framing, resolution: int
) -> npt.NDArray[np.uint8]:
    """A frame's small person mask (``[h, w]``, the frame's aspect) cut to ``crop`` and
    resized to ``resolution``, in one warp (pixel centres kept), edges replicated like
    :meth:`Framing.apply` does for the image."""
    mh, mw = mask.shape
    sx, sy = mw / width, mh / height
    k = crop.size / resolution
    # crop pixel u -> frame x = (u + 0.5) k - 0.5 + x0 -> mask (x + 0.5) sx - 0.5
    m = np.array(
        [
            [k * sx, 0.0, ((0.5 * k - 0.5 + crop.x0) + 0.5) * sx - 0.5],
            [0.0, k * sy, ((0.5 * k - 0.5 + crop.y0) + 0.5) * sy - 0.5],
        ]
    )
    out = cv2.warpAffine(
        mask,
        m,
        (resolution, resolution),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(out, np.uint8)


def _clip_frames(
    frames: list[ShardFrame],
    resolution: int,
    pad: float,
    progress: Callable[[], None],
    crop: Framing | None = None,
) -> FrameSet | None:
    meta0 = frames[0][0]
    if crop is None:
        crop = _clip_framing(frames, pad)
    imgs, poses, flipped, kps_out, boxes, seqs = [], [], [], [], [], []
    masks: list[npt.NDArray[np.uint8]] = []
    has_mask: list[bool] = []
    for meta, jpeg, mask in frames:
        progress()
        kps = meta.keypoints_array()
        if (kps[:, 2] >= DEFAULT_MIN_CONF).sum() < MIN_JOINTS:
            continue
        decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            logger.warning("frame %s/%d: JPEG does not decode; skipped", meta.node, meta.seq)
            continue
        bgr = np.asarray(decoded, np.uint8)
        ck = crop.to_pixels(kps, resolution)
        imgs.append(_rgb(crop.apply(bgr, resolution)))
        poses.append(_rgb(pose_map(ck, resolution, resolution)))
        fk = flip_keypoints(ck, resolution)
        flipped.append(_rgb(pose_map(fk, resolution, resolution)))
        kps_out.append(ck)
        boxes.append(dancer_box(ck, resolution))
        seqs.append(meta.seq)
        cropped = (
            None if mask is None else crop_mask(mask, meta.width, meta.height, crop, resolution)
        )
        has_mask.append(cropped is not None and bool(cropped.any()))
        masks.append(cropped if cropped is not None else np.zeros((resolution,) * 2, np.uint8))
    if not imgs:
        return None
    n = len(imgs)
    return FrameSet(
        resolution,
        _to_tensor(imgs),
        _to_tensor(poses),
        _to_tensor(flipped),
        torch.from_numpy(np.stack(kps_out)),
        torch.tensor(boxes, dtype=torch.long),
        torch.tensor([max(i - 1, 0) for i in range(n)], dtype=torch.long),
        seqs,
        [f"{meta0.session}/{meta0.node}"] * n,
        torch.from_numpy(np.stack(masks)).unsqueeze(1).contiguous(),
        torch.tensor(has_mask, dtype=torch.bool),
    )


def build_frameset(
    sources: Iterable[ShardSource],
    resolution: int,
    *,
    pad: float = 0.25,
    progress: ProgressFn | None = None,
    crop: Framing | None = None,
) -> FrameSet:
    """Decode a session's shards (any number of nodes) into one in-memory :class:`FrameSet`;
    each clip in its own framing, or all in ``crop`` (e.g. another clip's: :func:`clip_crop`)."""
    frames = read_frames(sources)
    clips: dict[tuple[str, str], list[ShardFrame]] = {}
    for frame in frames:
        clips.setdefault((frame.meta.session, frame.meta.node), []).append(frame)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(frames))

    parts = [p for c in clips.values() if (p := _clip_frames(c, resolution, pad, tick, crop))]
    if not parts or sum(len(p) for p in parts) < MIN_FRAMES:
        raise NoDancerError(
            f"only {sum(len(p) for p in parts)} usable frames (need {MIN_FRAMES}): "
            "retake the capture with the dancer in view"
        )
    data = FrameSet.concat(parts)
    logger.info(
        "decoded %d frames of %d clips into %.1f MB", len(data), len(parts), data.nbytes() / 1e6
    )
    return data


def _clip_framing(frames: list[ShardFrame], pad: float) -> Framing:
    meta0 = frames[0][0]
    try:
        return Framing.around(
            [f.meta.keypoints for f in frames], meta0.width, meta0.height, pad=pad
        )
    except FramingError as exc:
        raise NoDancerError(str(exc)) from exc


def clip_crop(sources: Iterable[ShardSource], *, pad: float = 0.25) -> Framing:
    """The framing :func:`build_frameset` gives the (first) clip of these shards."""
    frames = read_frames(sources)
    if not frames:
        raise DataError("no frames in the shards")
    meta0 = frames[0][0]
    clip = [f for f in frames if (f[0].session, f[0].node) == (meta0.session, meta0.node)]
    return _clip_framing(clip, pad)


def holdout_indices(
    n: int, fraction: float = 0.1, *, minimum: int = 2, maximum: int = 32
) -> list[int]:
    """A fixed, evenly spread hold-out: every k-th frame, offset into the clip so the
    first and last (often static) frames are not over-represented."""
    count = int(min(max(round(n * fraction), minimum), maximum, n // 2))
    if count <= 0:
        return []
    step = n / count
    return sorted({int(step * (i + 0.5)) for i in range(count)})


def split(data: FrameSet, fraction: float = 0.1, *, maximum: int = 32) -> tuple[FrameSet, FrameSet]:
    """``(train, held_out)``: the held-out frames never appear in training batches."""
    held = holdout_indices(len(data), fraction, maximum=maximum)
    held_set = set(held)
    train = [i for i in range(len(data)) if i not in held_set]
    return data.subset(train), data.subset(held)


def place_frames(frames: FrameSet, device: torch.device, *, share: float = 0.4) -> FrameSet:
    """``frames`` on ``device`` when they take at most ``share`` of its free memory (batches
    are then cut there, with no copy per step), else where they are. On the CPU, as they
    are. A 15 s, 30 fps clip from two cameras is 900 frames: 0.15 / 0.59 / 2.4 GB at
    128 / 256 / 512 px (image, pose map, mirrored pose map and person mask, uint8)."""
    if device.type != "cuda":
        return frames
    free, _total = torch.cuda.mem_get_info(device)
    if frames.nbytes() <= share * free:
        logger.info("%.0f MB of frames kept on %s", frames.nbytes() / 1e6, device)
        return frames.to(device)
    logger.info(
        "%.0f MB of frames exceed %.0f%% of %s's %.0f MB free: batches are copied per step",
        frames.nbytes() / 1e6,
        share * 100,
        device,
        free / 1e6,
    )
    return frames
