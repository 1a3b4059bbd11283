"""PoseNet's hardware-free logic: output order, decoding, scaling, delegate set-up."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.frames import Frame
from edge.pose import create_estimator
from edge.pose.base import PoseError
from edge.pose.edgetpu import Unusable
from edge.pose.letterbox import Letterbox
from edge.pose.posenet import PoseNet, decode_posenet, order_outputs
from edge.settings import PoseNetSettings
from protocol.skeleton import KP
from tests.edge.pose.fakes import FakeRuntime, ModelSpec, elf_library

IN_W, IN_H, N = 641, 481, 10


def two_people(x: np.ndarray) -> list[np.ndarray]:
    """A stand-in for the decoder op: person 0 on the left, person 1 on the right."""
    kps = np.zeros((1, N, 17, 2), np.float32)
    kps[0, 0, :, 0], kps[0, 0, :, 1] = np.linspace(100, 400, 17), 160.0  # (y, x)
    kps[0, 1, :, 0], kps[0, 1, :, 1] = np.linspace(120, 420, 17), 480.0
    kps[0, 2:] = 1e6  # garbage beyond the count
    kp_scores = np.full((1, N, 17), 0.8, np.float32)
    pose_scores = np.zeros((1, N), np.float32)
    pose_scores[0, :2] = [0.6, 0.9]
    pose_scores[0, 2:] = 0.99
    assert x.dtype == np.uint8
    return [kps, kp_scores, pose_scores, np.array([2.0], np.float32)]


SPEC = ModelSpec(
    (1, IN_H, IN_W, 3),
    np.uint8,
    [
        ((1, N, 17, 2), np.float32),
        ((1, N, 17), np.float32),
        ((1, N), np.float32),
        ((1,), np.float32),
    ],
    two_people,
)


SAME = Letterbox.fit(IN_W, IN_H, IN_W, IN_H)  # input pixels are frame pixels


def posenet(tmp_path: Path, spec: ModelSpec = SPEC) -> PoseNet:
    model = tmp_path / "posenet_mobilenet_v1_075_481_641_quant_decoder_edgetpu.tflite"
    model.write_bytes(b"TFL3")
    lib = elf_library(tmp_path / "posenet_decoder.so")
    rt = FakeRuntime(spec, available={"libedgetpu.so.1", "posenet_decoder.so"})
    settings = PoseNetSettings(model_path=model, decoder_library=lib)
    net = PoseNet(settings, runtime=rt.runtime())
    assert [Path(d.library).name for d in rt.built[0].delegates] == [
        "libedgetpu.so.1",
        "posenet_decoder.so",
    ]
    return net


def test_two_people_best_first_in_image_pixels(tmp_path: Path) -> None:
    people = posenet(tmp_path).estimate(Frame(0, 0, np.zeros((480, 640, 3), np.uint8)))
    assert [p.score for p in people] == pytest.approx([0.9, 0.6])
    right, left = people
    assert right.keypoints[KP["nose"], 0] == pytest.approx(480 * 640 / IN_W)
    assert right.keypoints[KP["nose"], 1] == pytest.approx(120 * 480 / IN_H)
    assert left.keypoints[KP["right_ankle"], 1] == pytest.approx(400 * 480 / IN_H)
    assert left.keypoints[:, 2] == pytest.approx(np.full(17, 0.8))


def test_decode_trusts_no_count_past_the_arrays_and_drops_weak_poses() -> None:
    kps, kp_s, pose_s, _ = two_people(np.zeros((1, 1, 1, 3), np.uint8))
    people = decode_posenet(kps, kp_s, pose_s, np.array([99.0]), SAME, 0.2)
    assert len(people) == N  # count clipped to N; every pose above the threshold kept
    people = decode_posenet(kps, kp_s, pose_s, np.array([2.0]), SAME, 0.7)
    assert [p.score for p in people] == pytest.approx([0.9])
    nan_scores = pose_s.copy()
    nan_scores[0, 0] = np.nan
    assert len(decode_posenet(kps, kp_s, nan_scores, np.array([2.0]), SAME, 0.2)) == 1
    assert decode_posenet(kps, kp_s, pose_s, np.array([-3.0]), SAME, 0.2) == []


def test_outputs_in_another_order(tmp_path: Path) -> None:
    def shuffled(x: np.ndarray) -> list[np.ndarray]:
        k, ks, ps, c = two_people(x)
        return [c, ps, k, ks]

    spec = ModelSpec(
        SPEC.input_shape,
        np.uint8,
        [SPEC.outputs[3], SPEC.outputs[2], SPEC.outputs[0], SPEC.outputs[1]],
        shuffled,
    )
    people = posenet(tmp_path, spec).estimate(Frame(0, 0, np.zeros((480, 640, 3), np.uint8)))
    assert len(people) == 2


def test_a_model_without_the_decoder_is_refused() -> None:
    heatmaps = [{"shape": np.array([1, 31, 41, 17])}, {"shape": np.array([1, 31, 41, 34])}]
    with pytest.raises(PoseError, match="decoder"):
        order_outputs(heatmaps)


def test_missing_decoder_library_says_where_to_get_it(tmp_path: Path) -> None:
    model = tmp_path / "posenet.tflite"
    model.write_bytes(b"TFL3")
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1"})
    settings = PoseNetSettings(model_path=model, decoder_library=tmp_path / "absent.so")
    with pytest.raises(PoseError, match=r"posenet_decoder\.so"):
        PoseNet(settings, runtime=rt.runtime())


def test_no_edgetpu_here_keeps_the_node_up_with_the_install_hint(tmp_path: Path) -> None:
    """Without an Edge TPU runtime the probe's child cannot load the delegate: the
    estimator the node gets refuses every frame with what to install (before, the node
    stopped at start-up)."""
    model = tmp_path / "posenet.tflite"
    model.write_bytes(b"TFL3")
    lib = elf_library(tmp_path / "posenet_decoder.so")
    est = create_estimator(PoseNetSettings(model_path=model, decoder_library=lib))
    assert isinstance(est, Unusable)
    with pytest.raises(PoseError, match=r"Edge TPU unusable: .*libedgetpu"):
        est.estimate(Frame(0, 0, np.zeros((480, 640, 3), np.uint8)))


@pytest.mark.hardware
def test_posenet_on_the_edge_tpu() -> None:
    """Set DANCEBOOTH_POSENET_MODEL and DANCEBOOTH_POSENET_DECODER on a Coral."""
    from tests.edge.pose import photos

    model, lib = (
        os.environ.get(k) for k in ("DANCEBOOTH_POSENET_MODEL", "DANCEBOOTH_POSENET_DECODER")
    )
    if not model or not lib:
        pytest.skip("needs a Coral Edge TPU: set DANCEBOOTH_POSENET_MODEL/_DECODER")
    net = create_estimator(PoseNetSettings(model_path=Path(model), decoder_library=Path(lib)))
    people = net.estimate(Frame(0, 0, photos.astronaut()))
    assert (
        people and people[0].keypoints[KP["nose"], 1] < people[0].keypoints[KP["left_shoulder"], 1]
    )


def test_a_16_9_frame_reaches_the_model_unsquashed(tmp_path: Path) -> None:
    """A round disc in a 1280x720 frame is still round in the 641x481 input the model
    sees (stretched to the input, as before, it was 0.75 as wide as high)."""
    img = np.zeros((720, 1280, 3), np.uint8)
    cv2.circle(img, (640, 360), 200, (255, 255, 255), -1)
    net = posenet(tmp_path)
    net.estimate(Frame(0, 0, img))
    seen = net.model.interpreter.inputs_seen[-1][0].max(axis=2) > 127
    ys, xs = np.nonzero(seen)
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    assert width / height == pytest.approx(1.0, abs=0.02)
    assert not seen[:59].any() and not seen[-59:].any()  # black bars above and below
