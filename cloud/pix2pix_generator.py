"""The fine-tuned pix2pix model as a render :class:`~cloud.render.generator.Generator`.

The renderer speaks BGR uint8 images (OpenCV's order); the model was trained on RGB
in ``[-1, 1]`` (see ``cloud.training.data``), so this adapter converts both ways.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from cloud.training.checkpoint import load_checkpoint
from protocol.shards import read_shard

Images = npt.NDArray[np.uint8]


class Pix2PixGenerator:
    """Loads a checkpoint once and turns batches of pose maps into frames (CPU or CUDA)."""

    dancer_only = False

    def __init__(self, checkpoint: Path, device: str = "cpu") -> None:
        ckpt = load_checkpoint(checkpoint)
        self.device = torch.device(device)
        self.model = ckpt.build_model().to(self.device).eval()
        self.resolution = int(ckpt.config.resolution)
        self.temporal = bool(ckpt.config.temporal)
        self.model_version = f"pix2pix-{ckpt.sha256[:12] or 'unhashed'}"

    def _to_tensor(self, bgr: Images) -> torch.Tensor:
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        t = torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2).float()
        return t.div_(127.5).sub_(1.0)

    def _to_images(self, t: torch.Tensor) -> Images:
        rgb = t.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        return np.ascontiguousarray(rgb[..., ::-1])

    @torch.no_grad()
    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        poses = self._to_tensor(np.asarray(pose_maps, dtype=np.uint8))
        if not self.temporal:
            return self._to_images(self.model.generate(poses))
        # A temporal model conditions every frame on the one before: one at a time.
        prev = None if previous is None else self._to_tensor(previous[None])
        out = []
        for i in range(len(poses)):
            prev = self.model.generate(poses[i : i + 1], prev)
            out.append(prev)
        return self._to_images(torch.cat(out))


def visitor_keypoints(shards: list[bytes]) -> npt.NDArray[np.float32]:
    """``[T, 17, 3]`` keypoints of the node that saw the visitor longest (source pixels)."""
    clips: dict[str, list[tuple[int, list[list[float]]]]] = {}
    for shard in shards:
        for meta, _jpeg in read_shard(shard):
            clips.setdefault(meta.node, []).append((meta.seq, [list(p) for p in meta.keypoints]))
    if not clips:
        raise ValueError("the session's shards hold no frames")
    best = max(clips.values(), key=len)
    return np.asarray([k for _, k in sorted(best)], dtype=np.float32)
