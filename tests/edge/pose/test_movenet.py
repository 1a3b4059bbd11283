"""MoveNet's hardware-free logic: input types, crop following, decoding back to the image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge.frames import Frame
from edge.pose import create_estimator
from edge.pose.base import PoseError
from edge.pose.movenet import (
    MoveNet,
    crop_region,
    decode_movenet,
    dequantize,
    full_frame,
    to_model_input,
)
from edge.pose.roi import RotatedRect
from edge.settings import MoveNetSettings
from protocol.skeleton import KP
from tests.edge.pose.fakes import FakeRuntime, ModelSpec
from tests.edge.pose.test_tracking import TEMPLATE

SIZE = 192


def blob_pose(x: np.ndarray) -> list[np.ndarray]:
    """A stand-in network: a 0.5-tall figure whose nose is at the bright blob's centre."""
    img = x[0].astype(np.float32).mean(axis=2)
    ys, xs = np.nonzero(img > 200)
    cy, cx = (ys.mean() / SIZE, xs.mean() / SIZE) if len(xs) else (0.5, 0.5)
    score = 0.9 if len(xs) else 0.05
    yx = np.column_stack([TEMPLATE[:, 1] * 0.5 + cy - 0.025, TEMPLATE[:, 0] * 0.5 + cx])
    out = np.column_stack([yx, np.full(17, score)]).astype(np.float32)
    return [out.reshape(1, 1, 17, 3)]


def movenet(tmp_path: Path, dtype: type = np.uint8, **spec: object) -> MoveNet:
    model = tmp_path / "movenet.tflite"
    model.write_bytes(b"TFL3")
    rt = FakeRuntime(
        ModelSpec((1, SIZE, SIZE, 3), dtype, [((1, 1, 17, 3), np.float32)], blob_pose, **spec)
    )  # type: ignore[arg-type]
    return MoveNet(MoveNetSettings(model_path=model), runtime=rt.runtime())


def frame_with_blob(x: int, y: int, seq: int = 0) -> Frame:
    img = np.full((480, 640, 3), 40, np.uint8)
    img[y - 6 : y + 6, x - 6 : x + 6] = 255
    return Frame(seq, 0, img)


def test_estimate_maps_back_to_the_image_and_follows(tmp_path: Path) -> None:
    net = movenet(tmp_path)
    for seq, (x, y) in enumerate([(400, 100), (404, 102), (410, 104)]):
        (p,) = net.estimate(frame_with_blob(x, y, seq))
        assert p.keypoints[KP["nose"], :2] == pytest.approx([x - 0.5, y - 0.5], abs=2.0)
    assert net._previous is not None
    roi = crop_region(net._previous, 640, 480)
    assert roi.size < 640  # after the first frame it looks at a crop, not the whole frame


def test_nobody_when_scores_are_low(tmp_path: Path) -> None:
    net = movenet(tmp_path)
    assert net.estimate(Frame(0, 0, np.zeros((480, 640, 3), np.uint8))) == []
    assert net._previous is None


def test_float_and_int8_inputs(tmp_path: Path) -> None:
    (p,) = movenet(tmp_path, np.float32).estimate(frame_with_blob(200, 200))
    assert p.keypoints[KP["nose"], 0] == pytest.approx(199.5, abs=2)
    q = to_model_input(np.array([[[0, 128, 255]]], np.uint8), np.dtype(np.int8), (1.0, -128))
    assert q.tolist() == [[[-128, 0, 127]]]
    with pytest.raises(PoseError, match="quantisation"):
        to_model_input(np.zeros((1, 1, 3), np.uint8), np.dtype(np.int8), (0.0, 0))


def test_dequantize_uint8_output() -> None:
    out = dequantize(np.array([0, 128, 255], np.uint8), (1 / 255, 0))
    assert out == pytest.approx([0, 128 / 255, 1])


def test_decode_swaps_yx_and_projects() -> None:
    out = np.zeros((1, 1, 17, 3), np.float32)
    out[0, 0, :, 0] = 0.25  # y
    out[0, 0, :, 1] = 0.75  # x
    out[0, 0, :, 2] = 1.5  # scores are clipped to [0, 1]
    kps = decode_movenet(out, RotatedRect(100, 50, 200, 0.0), SIZE)
    assert kps[0] == pytest.approx([150, 0, 1.0])
    with pytest.raises(PoseError, match="17"):
        decode_movenet(np.zeros((1, 1, 6, 3), np.float32), full_frame(640, 480), SIZE)


def test_crop_region_rules() -> None:
    assert crop_region(None, 640, 480) == full_frame(640, 480)
    kps = np.column_stack([TEMPLATE * 200 + [320, 150], np.full(17, 0.9)]).astype(np.float32)
    roi = crop_region(kps, 640, 480)
    hip = (kps[KP["left_hip"], :2] + kps[KP["right_hip"], :2]) / 2
    assert (roi.cx, roi.cy) == pytest.approx(tuple(hip))
    torso = np.abs(kps[[5, 6, 11, 12], :2] - hip).max()  # shoulders 70 px above the hips
    body = np.abs(kps[:, :2] - hip).max()
    assert roi.size == pytest.approx(2 * max(1.9 * torso, 1.2 * body), rel=1e-4)
    assert roi.size == pytest.approx(2 * 1.9 * 70, rel=1e-3)
    kps[[KP["left_hip"], KP["right_hip"]], 2] = 0.1  # torso not seen -> whole frame
    assert crop_region(kps, 640, 480) == full_frame(640, 480)


def test_not_a_movenet(tmp_path: Path) -> None:
    model = tmp_path / "other.tflite"
    model.write_bytes(b"TFL3")
    rt = FakeRuntime(ModelSpec((1, 224, 224, 3), np.uint8, [((1, 1001), np.float32)], blob_pose))
    with pytest.raises(PoseError, match="single-pose MoveNet"):
        MoveNet(MoveNetSettings(model_path=model), runtime=rt.runtime())


def test_registry_reports_missing_model(tmp_path: Path) -> None:
    with pytest.raises(PoseError, match="does not exist"):
        create_estimator(MoveNetSettings(model_path=tmp_path / "absent.tflite"))


@pytest.mark.hardware
def test_movenet_on_the_edge_tpu() -> None:
    """Set DANCEBOOTH_MOVENET_EDGETPU_MODEL to a movenet_*_edgetpu.tflite on a Coral."""
    from tests.edge.pose import photos

    path = os.environ.get("DANCEBOOTH_MOVENET_EDGETPU_MODEL")
    if not path:
        pytest.skip("needs a Coral Edge TPU: set DANCEBOOTH_MOVENET_EDGETPU_MODEL")
    net = create_estimator(MoveNetSettings(model_path=Path(str(path)), device="edgetpu"))
    people = net.estimate(Frame(0, 0, photos.astronaut()))
    assert len(people) == 1
    assert people[0].keypoints[KP["nose"], 1] < people[0].keypoints[KP["left_shoulder"], 1]


def test_registry_error_names_the_backend(tmp_path: Path) -> None:
    with pytest.raises(PoseError, match=r"pose backend 'movenet' cannot start: .*absent"):
        create_estimator(MoveNetSettings(model_path=tmp_path / "absent.tflite"))
