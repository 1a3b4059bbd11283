"""The person mask from BlazePose's landmark model: its segmentation output, a 256x256
logit map over the rotated ROI crop, put back into frame coordinates at mask size.

One warp does it all: each pixel of the (at most 128 px, frame-aspect) mask of
:mod:`protocol.masks` samples the logit map where the crop saw that point of the frame
(bilinear, outside the crop: background), and the sigmoid runs on the small result
rather than on the 256x256 map.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.pose.roi import RotatedRect
from protocol.masks import Mask, mask_shape

OUTSIDE_LOGIT = -20.0  # off the crop: certainly background


def mask_to_frame(width: int, height: int, shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    """3x3 affine: mask pixel -> frame pixel (pixel centres aligned)."""
    mh, mw = shape
    sx, sy = width / mw, height / mh
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def roi_mask(
    logits: npt.ArrayLike, roi: RotatedRect, input_size: int, width: int, height: int
) -> Mask:
    """The ``[h, w]`` uint8 person mask of a ``width`` x ``height`` frame from the model's
    segmentation logits (``[..., S, S, 1]`` over the ``input_size`` crop of ``roi``)."""
    seg = np.asarray(logits, dtype=np.float32)
    seg = seg.reshape(seg.shape[-3], seg.shape[-2]) if seg.ndim >= 3 else seg
    shape = mask_shape(width, height)
    # frame -> crop input pixels, then crop input -> segmentation map pixels
    crop_to_frame = np.vstack([roi.crop_to_image(input_size).astype(np.float64), [0, 0, 1]])
    k = seg.shape[1] / input_size
    to_seg = np.array([[k, 0.0, 0.5 * k - 0.5], [0.0, k, 0.5 * k - 0.5], [0.0, 0.0, 1.0]])
    m = to_seg @ np.linalg.inv(crop_to_frame) @ mask_to_frame(width, height, shape)
    small = cv2.warpAffine(
        seg,
        m[:2],
        (shape[1], shape[0]),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=OUTSIDE_LOGIT,
    )
    logit = np.clip(np.asarray(small, np.float32), -30.0, 30.0)  # exp() stays finite
    prob = 1.0 / (1.0 + np.exp(-logit))
    return np.asarray(np.rint(prob * 255.0), np.uint8)
