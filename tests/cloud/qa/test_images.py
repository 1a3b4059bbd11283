"""The image check: blur and exposure from a sample of a capture's JPEGs."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from cloud.qa.images import pick_samples, score_images
from cloud.qa.report import NodeClip, assess
from cloud.settings import CaptureQaSettings
from edge.synthetic.captures import synthetic_capture

Image = npt.NDArray[np.uint8]
CAPTURE = synthetic_capture("along", "wave-party", 2, duration_s=3.0, jpegs=4)


def edited(change: Callable[[Image], Image]) -> list[bytes]:
    out = []
    for jpeg in CAPTURE.jpegs:
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        out.append(cv2.imencode(".jpg", change(img))[1].tobytes())
    return out


def reasons(jpegs: list[bytes]) -> list[str]:
    clip = NodeClip(
        "n", CAPTURE.keypoints, CAPTURE.width, CAPTURE.height, jpegs, CAPTURE.jpeg_frames
    )
    return [r for r in assess([clip], None, CaptureQaSettings()).reasons if "motion" not in r]


def test_sharp_well_lit_frames_pass() -> None:
    assert reasons(list(CAPTURE.jpegs)) == []


def test_blurred_frames_are_flagged() -> None:
    found = reasons(edited(lambda i: cv2.GaussianBlur(i, (0, 0), 3)))
    assert len(found) == 1 and "blurred" in found[0]


def test_dark_and_blown_out_frames_are_flagged() -> None:
    assert any("too dark" in r for r in reasons(edited(lambda i: (i * 0.15).astype(np.uint8))))
    blown = reasons(edited(lambda i: cv2.convertScaleAbs(i, alpha=2.5, beta=60)))
    assert any("overexposed" in r for r in blown) and any("pure black or white" in r for r in blown)


def test_undecodable_jpegs_skip_the_check_and_say_so() -> None:
    assert score_images([b"\xff\xd8 not a jpeg \xff\xd9"]) is None
    clip = NodeClip("n", CAPTURE.keypoints, CAPTURE.width, CAPTURE.height, [b"junk"], [0])
    report = assess([clip], None, CaptureQaSettings())
    assert report.nodes[0].images is None
    assert "image not checked" in report.nodes[0].notes[-1]


def test_samples_are_spread_over_the_clip() -> None:
    assert pick_samples(450, 4) == [0, 150, 299, 449]
    assert pick_samples(3, 12) == [0, 1, 2]
    assert pick_samples(0, 12) == [] and pick_samples(10, 0) == []
