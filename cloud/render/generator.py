"""The Generator interface the renderer draws with, and PosePainter, a small real one.

A generator turns a batch of pose maps into images of the visitor. Implementers
provide:

- ``resolution``: the square side, in pixels, of the pose maps it takes and the
  images it returns;
- ``model_version``: a string naming the weights, written into the rendition's tags;
- ``temporal``: ``True`` if each frame is conditioned on the previous output
  (Everybody Dance Now's temporal smoothing). The renderer then passes the last
  frame it got as ``previous`` (``[H, W, 3]``, ``None`` at the start) and the
  generator must chain inside the batch itself (frame ``i`` on frame ``i - 1``);
- ``dancer_only``: ``True`` if it predicts the dancer without the booth. It then
  returns ``[B, H, W, 4]``: BGR plus an alpha channel (255 = dancer, 0 = booth), and
  the renderer composites that over the booth background. Otherwise ``[B, H, W, 3]``;
- ``generate(pose_maps, previous)``: ``pose_maps`` is ``[B, H, W, 3]`` uint8 BGR, as
  drawn by :func:`common.posemap.pose_map`; returns uint8 BGR(A) of the same ``B, H, W``.

:class:`PosePainter` is a complete, model-free implementation: it paints each limb
as a soft, thickened band through a fixed colour transform over a plain backdrop.
It renders the pipeline end to end in tests, demos and the benchmark without a
trained model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

Images = npt.NDArray[np.uint8]


@runtime_checkable
class Generator(Protocol):
    resolution: int
    model_version: str
    temporal: bool
    dancer_only: bool

    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        """``[B, H, W, 3]`` pose maps -> ``[B, H, W, 3]`` images (``4`` if dancer_only)."""
        ...


# A fixed colour transform (BGR -> BGR): skin-and-cloth-like tones from limb colours.
_COLOR = np.array([[0.30, 0.25, 0.10], [0.20, 0.45, 0.20], [0.15, 0.35, 0.60]], dtype=np.float32)


class PosePainter:
    """Paints pose maps into soft figures: a real, deterministic, model-free Generator.

    ``temporal=True`` blends each frame with the previous output (weight ``carry``),
    exercising the renderer's chaining; ``dancer_only=True`` returns BGRA with the
    figure's alpha instead of painting a backdrop.
    """

    def __init__(
        self,
        resolution: int = 128,
        *,
        temporal: bool = False,
        dancer_only: bool = False,
        carry: float = 0.3,
        backdrop: tuple[int, int, int] = (96, 110, 124),
    ) -> None:
        if resolution < 16 or resolution % 2:
            raise ValueError(f"resolution must be an even number >= 16, got {resolution}")
        self.resolution = resolution
        self.temporal = temporal
        self.dancer_only = dancer_only
        self.carry = carry
        self.model_version = f"pose-painter-{resolution}{'-t' if temporal else ''}"
        self._backdrop = np.array(backdrop, dtype=np.float32)
        r = max(1, resolution // 32)
        self._kernel = np.asarray(
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)), np.uint8
        )

    def _paint(self, pose_map: Images) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        body = cv2.dilate(pose_map, self._kernel)
        soft = cv2.GaussianBlur(body, (0, 0), max(1.0, self.resolution / 96))
        color = soft.astype(np.float32) @ _COLOR.T + 40.0
        alpha = np.clip(soft.max(axis=2).astype(np.float32) / 96.0, 0.0, 1.0)[:, :, None]
        return np.clip(color, 0, 255), alpha

    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        b, h, w = pose_maps.shape[:3]
        if pose_maps.shape[1:] != (self.resolution, self.resolution, 3):
            raise ValueError(
                f"pose maps must be [B, {self.resolution}, {self.resolution}, 3], "
                f"got {pose_maps.shape}"
            )
        out = np.empty((b, h, w, 4 if self.dancer_only else 3), dtype=np.uint8)
        prev = None if previous is None else previous.astype(np.float32)
        for i in range(b):
            color, alpha = self._paint(pose_maps[i])
            if self.dancer_only:
                out[i, :, :, :3] = color.astype(np.uint8)
                out[i, :, :, 3] = (alpha[:, :, 0] * 255).astype(np.uint8)
                continue
            img = self._backdrop * (1 - alpha) + color * alpha
            if self.temporal and prev is not None:
                img = (1 - self.carry) * img + self.carry * prev
            out[i] = np.clip(img, 0, 255).astype(np.uint8)
            prev = out[i].astype(np.float32)
        return out
