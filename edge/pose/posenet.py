"""The ``posenet`` backend: Coral's multi-person PoseNet on the Edge TPU (or the CPU).

Coral's ``posenet_mobilenet_v1_075_*_quant_decoder[_edgetpu].tflite`` models end in a
``PosenetDecoderOp`` custom op (from Coral's ``posenet_decoder.so``, loaded beside
the Edge TPU delegate) that turns heatmaps and offsets into finished poses: up to N
people with 17 COCO keypoints as (y, x) in input pixels, keypoint scores, pose
scores and the number of valid poses. As in Coral's camera demos, the input size
matches the camera's shape (641x481 for 4:3, 1281x721 for 16:9) and the frame is
letterboxed into it, never stretched.
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.frames import Frame
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.pose.coral import cached_model, posenet_for, resolve_decoder
from edge.pose.inputs import check_image
from edge.pose.interpreter import Runtime, TfliteModel, default_runtime, load_interpreter
from edge.pose.letterbox import Letterbox
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
        (kps,), (kp_scores,), (pose_scores,) = (by_rank[r] for r in (4, 3, 2))
        # The count is a scalar before allocation and [1] after.
        (count,) = by_rank.get(1, []) + by_rank.get(0, [])
    except (KeyError, ValueError):
        shapes = [tuple(int(v) for v in o["shape"]) for o in outputs]
        raise PoseError(
            f"not a PoseNet-with-decoder model (outputs {shapes}); use Coral's "
            "posenet_*_quant_decoder[_edgetpu].tflite"
        ) from None
    if int(outputs[kps]["shape"][-1]) != 2 or int(outputs[kps]["shape"][-2]) != NUM_KEYPOINTS:
        raise PoseError(f"PoseNet keypoints output has shape {outputs[kps]['shape']}")
    return [kps, kp_scores, pose_scores, count]


def decode_posenet(
    keypoints: FloatArray,
    keypoint_scores: FloatArray,
    pose_scores: FloatArray,
    count: FloatArray,
    box: Letterbox,
    min_pose_score: float,
) -> list[Person]:
    """Decoder outputs -> people in image pixels, best first.

    ``keypoints`` is ``[1, N, 17, 2]`` as (y, x) in input pixels; ``box`` maps input
    pixels back to image pixels.
    """
    kps = np.asarray(keypoints, dtype=np.float32).reshape(-1, NUM_KEYPOINTS, 2)
    kp_s = np.asarray(keypoint_scores, dtype=np.float32).reshape(-1, NUM_KEYPOINTS)
    pose_s = np.asarray(pose_scores, dtype=np.float32).reshape(-1)
    n = int(np.asarray(count).reshape(-1)[0])
    n = max(0, min(n, len(kps), len(kp_s), len(pose_s)))  # never trust a count past the arrays
    people = []
    for i in range(n):
        if not np.isfinite(pose_s[i]) or pose_s[i] < min_pose_score:
            continue
        xy = box.to_frame(kps[i, :, ::-1])
        conf = np.clip(np.nan_to_num(kp_s[i]), 0, 1)
        people.append(Person(np.column_stack([xy, conf]).astype(np.float32), float(pose_s[i])))
    people.sort(key=lambda p: -p.score)
    return people


def resolved(settings: PoseNetSettings, frame_size: tuple[int, int] | None) -> PoseNetSettings:
    """``settings`` with absolute paths of the model and the decoder library to load: the
    configured ones, or the cached model whose input suits ``frame_size`` (w, h)."""
    model = settings.model_path
    if model is None:
        w, h = frame_size or (640, 480)
        model = cached_model(posenet_for(w, h).file_name(settings.device), settings.model_dir)
    decoder = resolve_decoder(settings.decoder_library, settings.model_dir)
    return settings.model_copy(
        update={"model_path": model.expanduser().resolve(), "decoder_library": decoder}
    )


class PoseNet(PoseEstimator):
    name = "posenet"
    takes_frame_size = True

    def __init__(
        self,
        settings: PoseNetSettings,
        runtime: Runtime | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        self.settings = settings = resolved(settings, frame_size)
        assert settings.model_path is not None and settings.decoder_library is not None
        tpu = settings.edgetpu
        self.model = TfliteModel(
            load_interpreter(
                settings.model_path,
                threads=settings.threads,
                device=settings.device,
                edgetpu_device=tpu.device,
                edgetpu_library_path=tpu.library,
                custom_op_libraries=[settings.decoder_library],
                runtime=runtime or default_runtime(tpu.runtime, settings.device),
            )
        )
        self.order = order_outputs(self.model.outputs)
        if self.model.input_dtype != np.uint8:
            raise PoseError(f"{settings.model_path}: expected a uint8 (quantised) input")
        self._box: Letterbox | None = None

    @property
    def tflite_models(self) -> dict[str, TfliteModel]:
        return {"posenet": self.model}

    def letterbox(self, width: int, height: int) -> Letterbox:
        box = self._box
        if box is None or (box.frame_w, box.frame_h) != (width, height):
            in_w, in_h = self.model.input_size
            box = self._box = Letterbox.fit(width, height, in_w, in_h)
            if box.padded_share > 0.1:
                logger.warning(
                    "%dx%d frames fill only %.0f %% of %s's %dx%d input: a model made for this "
                    "camera shape sees people larger",
                    width,
                    height,
                    100 * (1 - box.padded_share),
                    self.settings.model_path,
                    in_w,
                    in_h,
                )
        return box

    def estimate(self, frame: Frame) -> list[Person]:
        check_image(frame.image)
        box = self.letterbox(frame.width, frame.height)
        rgb = cv2.cvtColor(box.apply(frame.image), cv2.COLOR_BGR2RGB)
        kps, kp_scores, pose_scores, count = self.model.run(rgb, self.order)
        return decode_posenet(kps, kp_scores, pose_scores, count, box, self.settings.min_pose_score)
