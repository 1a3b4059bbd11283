"""The ``posenet`` backend: Coral's multi-person PoseNet on the Edge TPU.

Coral's ``posenet_mobilenet_v1_075_*_quant_decoder_edgetpu.tflite`` models end in a
``PosenetDecoderOp`` custom op (from Coral's ``posenet_decoder.so``, loaded beside
the Edge TPU delegate) that turns heatmaps and offsets into finished poses: up to N
people with 17 COCO keypoints as (y, x) in input pixels, keypoint scores, pose
scores and the number of valid poses. The frame is resized to the model's input
(e.g. 641x481 for 640x480 cameras, as Coral's own camera demos do).
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Frame
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.pose.inputs import check_image
from edge.pose.interpreter import Runtime, TfliteModel, load_interpreter
from edge.settings import PoseNetSettings
from protocol.skeleton import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


def order_outputs(outputs: list[dict[str, Any]]) -> list[int]:
    """Positions of (keypoints, keypoint scores, pose scores, count) among the outputs,
    told apart by rank so a model that lists them in another order still decodes."""
    by_rank: dict[int, list[int]] = {}
    for pos, out in enumerate(outputs):
        by_rank.setdefault(len(out["shape"]), []).append(pos)
    try:
        (kps,), (kp_scores,), (pose_scores,), (count,) = (by_rank[r] for r in (4, 3, 2, 1))
    except (KeyError, ValueError):
        shapes = [tuple(int(v) for v in o["shape"]) for o in outputs]
        raise PoseError(
            f"not a PoseNet-with-decoder model (outputs {shapes}); use Coral's "
            "posenet_*_quant_decoder_edgetpu.tflite"
        ) from None
    if int(outputs[kps]["shape"][-1]) != 2 or int(outputs[kps]["shape"][-2]) != NUM_KEYPOINTS:
        raise PoseError(f"PoseNet keypoints output has shape {outputs[kps]['shape']}")
    return [kps, kp_scores, pose_scores, count]


def decode_posenet(
    keypoints: FloatArray,
    keypoint_scores: FloatArray,
    pose_scores: FloatArray,
    count: FloatArray,
    scale_xy: tuple[float, float],
    min_pose_score: float,
) -> list[Person]:
    """Decoder outputs -> people in image pixels, best first.

    ``keypoints`` is ``[1, N, 17, 2]`` as (y, x) in input pixels; ``scale_xy`` maps input
    pixels to image pixels.
    """
    kps = np.asarray(keypoints, dtype=np.float32).reshape(-1, NUM_KEYPOINTS, 2)
    kp_s = np.asarray(keypoint_scores, dtype=np.float32).reshape(-1, NUM_KEYPOINTS)
    pose_s = np.asarray(pose_scores, dtype=np.float32).reshape(-1)
    n = int(np.asarray(count).reshape(-1)[0])
    n = max(0, min(n, len(kps), len(kp_s), len(pose_s)))  # never trust a count past the arrays
    people = []
    sx, sy = scale_xy
    for i in range(n):
        if not np.isfinite(pose_s[i]) or pose_s[i] < min_pose_score:
            continue
        xy = np.column_stack([kps[i, :, 1] * sx, kps[i, :, 0] * sy])
        conf = np.clip(np.nan_to_num(kp_s[i]), 0, 1)
        people.append(Person(np.column_stack([xy, conf]).astype(np.float32), float(pose_s[i])))
    people.sort(key=lambda p: -p.score)
    return people


class PoseNet(PoseEstimator):
    name = "posenet"

    def __init__(self, settings: PoseNetSettings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.model = TfliteModel(
            load_interpreter(
                settings.model_path,
                threads=settings.threads,
                device=settings.device,
                edgetpu_device=settings.edgetpu_device,
                custom_op_libraries=[settings.decoder_library],
                runtime=runtime,
            )
        )
        self.order = order_outputs(self.model.outputs)
        if self.model.input_dtype != np.uint8:
            raise PoseError(f"{settings.model_path}: expected a uint8 (quantised) input")

    @property
    def tflite_models(self) -> dict[str, TfliteModel]:
        return {"posenet": self.model}

    def estimate(self, frame: Frame) -> list[Person]:
        check_image(frame.image)
        in_w, in_h = self.model.input_size
        resized = cv2.resize(frame.image, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        kps, kp_scores, pose_scores, count = self.model.run(rgb, self.order)
        scale = (frame.width / in_w, frame.height / in_h)
        return decode_posenet(
            kps, kp_scores, pose_scores, count, scale, self.settings.min_pose_score
        )
