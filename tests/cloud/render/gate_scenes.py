"""Synthetic booth frames for the rendition checks: a dancer cropped like the training
crop at the generator's resolution, an empty booth, and another visitor."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from cloud.training.framing import Framing
from edge.synthetic.background import background_plate
from edge.synthetic.visitor import make_visitor


@dataclass(frozen=True)
class Scene:
    frames: npt.NDArray[np.uint8]  # [T, res, res, 3]
    keypoints: npt.NDArray[np.float32]  # [T, 17, 3] in the crop's pixels
    masks: npt.NDArray[np.uint8]  # [T, res, res]
    empty: npt.NDArray[np.uint8]  # [res, res, 3] the booth without anyone


def scene(seed: int, res: int = 128, seconds: float = 3.0, fps: float = 10.0) -> Scene:
    v = make_visitor(seed, seconds)
    frames = list(v.frames(640, 480, fps, seconds, masks=True))
    kps = np.stack([f.truth for f in frames])
    framing = Framing.around(kps, 640, 480)
    images = np.stack([framing.apply(f.image, res) for f in frames])
    masks = []
    for f in frames:
        assert f.truth_mask is not None
        full = np.asarray(
            cv2.resize(f.truth_mask, (640, 480), interpolation=cv2.INTER_NEAREST), np.uint8
        )
        masks.append(framing.apply(np.dstack([full] * 3), res)[..., 0])
    plate = framing.apply(background_plate(640, 480), res)
    return Scene(images, framing.to_pixels(kps, res), np.stack(masks), plate)
