"""A plate with somebody in it, found from the session's own frames (synthetic booth:
the frames' exact person masks, a plate with another dancer standing in it)."""

from __future__ import annotations

import numpy as np

from cloud.ingest.plate_check import SampledFrame, plate_changes
from edge.synthetic.background import background_plate
from edge.synthetic.renderer import Renderer
from edge.synthetic.visitor import make_visitor
from protocol.skeleton import NUM_KEYPOINTS

W, H = 640, 480


def _frames(seed: int = 1, n: int = 12) -> list[SampledFrame]:
    frames = list(make_visitor(seed).frames(W, H, 30, 8.0, masks=True))
    picked = [frames[i] for i in np.linspace(0, len(frames) - 1, n).astype(int)]
    out = []
    for f in picked:
        assert f.truth is not None
        out.append(SampledFrame(f.image, f.truth_mask, f.truth[:NUM_KEYPOINTS]))
    return out


def _plate_with_somebody(shift_x: float) -> np.ndarray:
    """The booth with another visitor standing ``shift_x`` metres to the side."""
    other = make_visitor(5)
    posed = other.posed(30, 1.0)
    posed.joints[..., 0] += shift_x
    return Renderer(W, H, other.appearance, other.shape).render(posed, 0)


def test_a_clean_plate_passes_and_one_with_somebody_in_it_is_found() -> None:
    frames = _frames()
    assert plate_changes(np.asarray(background_plate(W, H)), frames) is None
    warning = plate_changes(_plate_with_somebody(1.3), frames)
    assert warning is not None and "retake the plate" in warning
    x = int(warning.split("x=")[1].split(",")[0])
    assert x > W // 2  # found where the other person stood, to the right


def test_frames_without_masks_use_the_skeleton_and_other_sizes_are_skipped() -> None:
    frames = [SampledFrame(f.image, None, f.keypoints) for f in _frames()]
    assert plate_changes(np.asarray(background_plate(W, H)), frames) is None
    assert plate_changes(_plate_with_somebody(-1.3), frames) is not None
    small = np.asarray(background_plate(320, 240))
    assert plate_changes(small, frames) is None  # no frame of the plate's size: no verdict
