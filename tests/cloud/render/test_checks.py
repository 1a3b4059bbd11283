"""The rendition checks on sampled frames, with the booth's real BlazePose: a rendition
of the dancer passes the pose check, an empty booth has nobody; the strip shows the worst
frames; the cloud reaches the estimator through the child process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from cloud.render import appearance
from cloud.render.checks import FrameSampler, check_rendition, strip
from common.pose_check import Keypoints, PoseCheckError, PoseServer
from edge.pose.base import PoseError
from edge.pose.models import FETCH_HINT, model_path
from edge.pose_frames import estimate_frames
from tests.cloud.render.gate_scenes import Scene, scene
from tests.services import missing


@pytest.fixture(scope="module")
def models() -> None:
    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)


@pytest.fixture(scope="module")
def dancer() -> Scene:
    return scene(4)


def _sampled(s: Scene, frames: np.ndarray, alpha: np.ndarray | None = None) -> FrameSampler:
    sampler = FrameSampler(len(frames), runs=3, run_length=3)
    for i, f in enumerate(frames):
        sampler.offer(i, f, s.keypoints[i], None if alpha is None else alpha[i])
    return sampler


def in_process(frames: np.ndarray, index: Sequence[int]) -> list[Keypoints | None]:
    return estimate_frames(frames, index)


def test_the_sampler_keeps_runs_spread_over_the_clip() -> None:
    s = FrameSampler(100, runs=3, run_length=4)
    assert s.wanted == [0, 1, 2, 3, 48, 49, 50, 51, 96, 97, 98, 99]
    assert FrameSampler(2, runs=5, run_length=4).wanted == [0, 1]
    with pytest.raises(ValueError, match=">= 1"):
        FrameSampler(0, runs=3)


def test_the_dancer_is_found_where_they_were_asked_to_be(models: None, dancer: Scene) -> None:
    sampler = _sampled(dancer, dancer.frames)
    visitor = appearance.signatures(list(dancer.frames), list(dancer.keypoints), list(dancer.masks))
    checks = check_rendition(sampler, in_process, visitor)
    assert checks.pose.missing == 0.0
    assert checks.pose.mean_error < 0.25
    assert checks.appearance is not None and checks.appearance.overall is not None
    assert checks.appearance.overall < 0.3
    picture = strip(sampler, checks, count=4)
    assert picture.shape == (128, 4 * 128, 3)


def test_an_empty_booth_has_nobody_and_every_frame_is_a_worst_frame(
    models: None, dancer: Scene
) -> None:
    empty = np.stack([dancer.empty] * len(dancer.frames))
    sampler = _sampled(dancer, empty, alpha=np.zeros(empty.shape[:3], np.uint8))
    checks = check_rendition(sampler, in_process, [])
    assert checks.pose.missing == 1.0
    assert checks.appearance is None and checks.notes
    assert strip(sampler, checks, count=2).shape == (128, 256, 3)


def test_a_render_that_kept_no_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="no sample frames"):
        check_rendition(FrameSampler(10, 2), in_process, [])


@pytest.fixture
def server() -> Iterator[PoseServer]:
    with PoseServer(timeout_s=120) as s:
        yield s


def test_the_cloud_asks_the_child_and_gets_what_the_edge_finds(
    models: None, dancer: Scene, server: PoseServer
) -> None:
    frames, index = dancer.frames[:4], [0, 1, 2, 10]
    here = estimate_frames(frames, index)
    there = server(frames, index)
    assert [k is None for k in there] == [k is None for k in here]
    for a, b in zip(here, there, strict=True):
        assert a is not None and b is not None
        np.testing.assert_allclose(a, b, atol=1e-3)
    assert server(np.stack([dancer.empty] * 2), [0, 1]) == [None, None]  # same child again
    assert server(np.zeros((0, 8, 8, 3), np.uint8), []) == []


def test_bad_frames_are_refused_before_any_child_runs(server: PoseServer) -> None:
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\] uint8"):
        server(np.zeros((2, 8, 8), np.uint8), [0, 1])
    with pytest.raises(ValueError, match="2 frames but 1 frame numbers"):
        server(np.zeros((2, 8, 8, 3), np.uint8), [0])


def test_a_child_that_cannot_run_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no models here' >&2\nexit 3\n")
    broken.chmod(0o755)
    with (
        PoseServer(python=str(broken), timeout_s=10) as s,
        pytest.raises(PoseCheckError, match="no models here"),
    ):
        s(np.zeros((1, 8, 8, 3), np.uint8), [0])
