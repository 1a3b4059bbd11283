"""Person detections from BlazePose's SSD detector: letterboxing, decoding, weighted NMS.

Follows MediaPipe's pose detection graph: the frame is letterboxed into the 224x224
input (aspect kept, zero borders), each of the 2254 anchors regresses a box and four
keypoints (hip centre, a point fixing full-body size and rotation, shoulder centre,
an upper-body point), scores are logits, and overlapping boxes are merged by a
score-weighted average (MediaPipe's WEIGHTED suppression) rather than dropped, which
steadies the box between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Image

FloatArray = npt.NDArray[np.float32]

NUM_DETECTION_KEYPOINTS = 4
HIP_CENTER, FULL_BODY, SHOULDER_CENTER, UPPER_BODY = range(NUM_DETECTION_KEYPOINTS)


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into a square model input: ``input = image * scale + pad``."""

    scale: float
    pad_x: float
    pad_y: float
    size: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> Letterbox:
        scale = size / max(width, height)
        return cls(scale, (size - width * scale) / 2, (size - height * scale) / 2, size)

    def matrix(self) -> FloatArray:
        """The 2x3 affine matrix image -> model input."""
        return np.array(
            [[self.scale, 0.0, self.pad_x], [0.0, self.scale, self.pad_y]], dtype=np.float32
        )

    def apply(self, image: Image) -> Image:
        out = cv2.warpAffine(
            image,
            self.matrix(),
            (self.size, self.size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        return np.asarray(out, dtype=np.uint8)

    def to_image(self, points: FloatArray) -> FloatArray:
        """Model-input pixels ``[..., 2]`` back to image pixels."""
        pad = np.array([self.pad_x, self.pad_y], dtype=np.float32)
        return ((points - pad) / self.scale).astype(np.float32)


@dataclass
class Detection:
    """One person box in image pixels, with the detector's four keypoints."""

    score: float
    box: FloatArray  # [4]: x0, y0, x1, y1
    keypoints: FloatArray  # [4, 2]: x, y


@dataclass(frozen=True)
class DecodeOptions:
    input_size: float = 224.0  # x/y/w/h scale of the raw regressions
    min_score: float = 0.5
    score_clip: float = 100.0
    nms_iou: float = 0.3


def sigmoid(x: npt.NDArray[np.floating]) -> FloatArray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))).astype(np.float32)


def decode_boxes(
    raw: FloatArray, logits: FloatArray, anchors: FloatArray, opts: DecodeOptions
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Raw ``[N, 12]`` regressions -> (scores ``[M]``, boxes ``[M, 4]``, keypoints ``[M, 4, 2]``)
    for the anchors scoring at least ``min_score``, in normalised model-input coordinates."""
    raw = raw.reshape(len(anchors), -1)
    scores = sigmoid(np.clip(logits.reshape(-1), -opts.score_clip, opts.score_clip))
    keep = scores >= opts.min_score
    raw, anc, scores = raw[keep], anchors[keep], scores[keep]
    # The model emits x, y, w, h ("reverse output order" in MediaPipe's terms).
    cx = raw[:, 0] / opts.input_size * anc[:, 2] + anc[:, 0]
    cy = raw[:, 1] / opts.input_size * anc[:, 3] + anc[:, 1]
    w = raw[:, 2] / opts.input_size * anc[:, 2]
    h = raw[:, 3] / opts.input_size * anc[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = raw[:, 4 : 4 + 2 * NUM_DETECTION_KEYPOINTS].reshape(-1, NUM_DETECTION_KEYPOINTS, 2)
    kp = kp / opts.input_size * anc[:, None, 2:4] + anc[:, None, 0:2]
    return scores, boxes.astype(np.float32), kp.astype(np.float32)


def iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    """Intersection over union of one ``[4]`` box with each of ``[N, 4]`` boxes."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def weighted_nms(
    scores: FloatArray, boxes: FloatArray, keypoints: FloatArray, iou_threshold: float
) -> list[tuple[float, FloatArray, FloatArray]]:
    """Merge overlapping candidates into their score-weighted mean, best first.

    Each output keeps the best candidate's score; its box and keypoints average every
    candidate overlapping the best by more than ``iou_threshold``.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    out: list[tuple[float, FloatArray, FloatArray]] = []
    while len(remaining):
        best = remaining[0]
        overlaps = iou(boxes[best], boxes[remaining]) > iou_threshold
        overlaps[0] = True
        group = remaining[overlaps]
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(axis=0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(axis=0) / w.sum()
        out.append((float(scores[best]), box.astype(np.float32), kps.astype(np.float32)))
        remaining = remaining[~overlaps]
    return out


def decode_detections(
    raw: FloatArray,
    logits: FloatArray,
    anchors: FloatArray,
    letterbox: Letterbox,
    opts: DecodeOptions | None = None,
) -> list[Detection]:
    """The detector's raw outputs -> people in image pixels, best first."""
    opts = opts or DecodeOptions()
    scores, boxes, kps = decode_boxes(raw, logits, anchors, opts)
    merged = weighted_nms(scores, boxes, kps, opts.nms_iou)
    size = float(letterbox.size)
    return [
        Detection(
            score=score,
            box=letterbox.to_image(box.reshape(2, 2) * size).reshape(4),
            keypoints=letterbox.to_image(kp * size),
        )
        for score, box, kp in merged
    ]
