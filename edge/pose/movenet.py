"""The ``movenet`` backend: MoveNet single-pose (Lightning/Thunder) on CPU or an Edge TPU.

MoveNet sees a square crop and returns ``[1, 1, 17, 3]`` as (y, x, score), normalised
to that crop, in COCO order. The crop follows the dancer the way the MoveNet authors
do it: a square around the previous frame's body (torso x1.9, limbs x1.2 from the
hip centre), or the whole frame letterboxed when the torso was not seen.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.frames import Frame, Image
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.pose.coral import cached_model, movenet_file
from edge.pose.inputs import check_image
from edge.pose.interpreter import Runtime, TfliteModel, default_runtime, load_interpreter
from edge.pose.roi import RotatedRect
from edge.settings import MoveNetSettings
from protocol.skeleton import KP, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

MIN_CROP_SCORE = 0.2
TORSO = (KP["left_shoulder"], KP["right_shoulder"], KP["left_hip"], KP["right_hip"])


def full_frame(width: int, height: int) -> RotatedRect:
    """The whole frame, letterboxed into a square."""
    return RotatedRect(width / 2, height / 2, float(max(width, height)), 0.0)


def _torso_visible(kps: FloatArray) -> bool:
    s = kps[:, 2]
    hips = s[KP["left_hip"]] > MIN_CROP_SCORE or s[KP["right_hip"]] > MIN_CROP_SCORE
    shoulders = s[KP["left_shoulder"]] > MIN_CROP_SCORE or s[KP["right_shoulder"]] > MIN_CROP_SCORE
    return bool(hips and shoulders)


def crop_region(kps: FloatArray | None, width: int, height: int) -> RotatedRect:
    """Where to look in the next frame, from this frame's keypoints ``[17, 3]`` (pixels)."""
    if kps is None or not _torso_visible(kps):
        return full_frame(width, height)
    center = (kps[KP["left_hip"], :2] + kps[KP["right_hip"], :2]) / 2
    torso = np.abs(kps[list(TORSO), :2] - center).max(axis=0)
    seen = kps[:, 2] > MIN_CROP_SCORE
    body = np.abs(kps[seen, :2] - center).max(axis=0)
    half = float(max(torso.max() * 1.9, body.max() * 1.2))
    cx, cy = float(center[0]), float(center[1])
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(width, height) / 2:
        return full_frame(width, height)
    return RotatedRect(cx, cy, 2 * half, 0.0)


def to_model_input(rgb: Image, dtype: np.dtype[Any], quant: tuple[float, int]) -> npt.NDArray[Any]:
    """RGB 0..255 pixels in the model's input type: MoveNet takes raw 0..255 values
    (uint8, int32 or float), or int8 through the input's quantisation."""
    if dtype == np.int8:
        scale, zero = quant
        if not scale:
            raise PoseError("int8 model input without quantisation parameters")
        q = np.round(rgb.astype(np.float32) / scale + zero)
        return np.clip(q, -128, 127).astype(np.int8)
    return rgb.astype(dtype)


def dequantize(values: npt.NDArray[Any], quant: tuple[float, int]) -> FloatArray:
    if np.issubdtype(values.dtype, np.floating):
        return values.astype(np.float32)
    scale, zero = quant
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)


def _quant(details: dict[str, Any]) -> tuple[float, int]:
    scale, zero = details.get("quantization", (0.0, 0))
    return float(scale), int(zero)


def decode_movenet(output: FloatArray, roi: RotatedRect, input_size: int) -> FloatArray:
    """``[1, 1, 17, 3]`` (y, x, score) in the crop -> ``[17, 3]`` (x, y, score) in the image."""
    arr = np.asarray(output, dtype=np.float32).reshape(-1, 3)
    if arr.shape[0] != NUM_KEYPOINTS:
        raise PoseError(f"MoveNet output has {arr.shape[0]} keypoints, expected {NUM_KEYPOINTS}")
    xy = arr[:, [1, 0]] * input_size
    return np.column_stack([roi.project(xy, input_size), np.clip(arr[:, 2], 0, 1)]).astype(
        np.float32
    )


def resolved(settings: MoveNetSettings, frame_size: tuple[int, int] | None) -> MoveNetSettings:
    """``settings`` with the absolute path of the model to load: the configured one, or
    Coral's Lightning for the device from the model cache."""
    model = settings.model_path or cached_model(movenet_file(settings.device), settings.model_dir)
    return settings.model_copy(update={"model_path": model.expanduser().resolve()})


class MoveNet(PoseEstimator):
    name = "movenet"
    takes_frame_size = True

    def __init__(
        self,
        settings: MoveNetSettings,
        runtime: Runtime | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        self.settings = settings = resolved(settings, frame_size)
        assert settings.model_path is not None
        tpu = settings.edgetpu
        self.model = TfliteModel(
            load_interpreter(
                settings.model_path,
                threads=settings.threads,
                device=settings.device,
                edgetpu_device=tpu.device,
                edgetpu_library_path=tpu.library,
                runtime=runtime or default_runtime(tpu.runtime, settings.device),
            )
        )
        w, h = self.model.input_size
        out_shape = tuple(int(v) for v in self.model.outputs[0]["shape"])
        if w != h or out_shape[-2:] != (NUM_KEYPOINTS, 3):
            raise PoseError(
                f"{settings.model_path} is not a single-pose MoveNet (input {w}x{h}, output "
                f"{out_shape}); use a singlepose Lightning/Thunder .tflite"
            )
        self.input_size = w
        inp = self.model.interpreter.get_input_details()[0]
        self.input_quant = _quant(inp)
        self.output_quant = _quant(self.model.outputs[0])
        self._previous: FloatArray | None = None

    @property
    def tflite_models(self) -> dict[str, TfliteModel]:
        return {"movenet": self.model}

    def estimate(self, frame: Frame) -> list[Person]:
        check_image(frame.image)
        roi = crop_region(self._previous, frame.width, frame.height)
        crop = roi.crop(frame.image, self.input_size)[:, :, ::-1]  # BGR -> RGB
        x = to_model_input(crop, self.model.input_dtype, self.input_quant)
        (out,) = self.model.run(x, [0])
        kps = decode_movenet(dequantize(out, self.output_quant), roi, self.input_size)
        score = float(kps[:, 2].mean())
        if score < self.settings.min_score:
            self._previous = None
            return []
        self._previous = kps
        return [Person(kps, score)]

    def reset(self) -> None:
        self._previous = None
