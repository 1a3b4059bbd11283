"""The dancer renderer: deterministic, any size 128-512, the person where the keypoints are."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from edge.synthetic.appearance import Appearance
from edge.synthetic.background import background_plate
from edge.synthetic.body import BodyShape
from edge.synthetic.renderer import Renderer
from edge.synthetic.visitor import BASE_CAPTURE_NS, make_visitor
from protocol.skeleton import KP


def _digest(seed: int, size: tuple[int, int] = (256, 256), n: int = 20) -> str:
    h = hashlib.sha256()
    for f in make_visitor(seed).frames(*size, 30, n / 30):
        h.update(f.image.tobytes())
    return h.hexdigest()


def test_same_seed_identical_bytes_other_seed_other_dancer() -> None:
    assert _digest(11) == _digest(11)
    assert _digest(11) != _digest(12)


@pytest.mark.parametrize(
    "size", [(128, 128), (256, 256), (512, 512), (320, 180), (200, 360), (640, 480), (40, 40)]
)
def test_any_size_shows_the_dancer_where_the_keypoints_are(size: tuple[int, int]) -> None:
    w, h = size
    if not (64 <= w <= 1920 and 64 <= h <= 1920):
        with pytest.raises(ValueError, match="64-1920"):
            next(make_visitor(0).frames(w, h, 30, 1))
        return
    plate = background_plate(w, h)
    v = make_visitor(3)
    for f in v.frames(w, h, 30, 1):
        assert f.image.shape == (h, w, 3) and f.image.dtype == np.uint8
        assert f.truth is not None
        changed = np.abs(f.image.astype(int) - plate).sum(axis=2) > 30
        hips = (f.truth[KP["left_hip"], :2] + f.truth[KP["right_hip"], :2]) / 2
        chest = (f.truth[KP["left_shoulder"], :2] + hips) / 2
        for x, y in (hips, chest):
            assert changed[int(y), int(x)]  # the body covers its own torso keypoints
        # ...and nothing far from the skeleton is drawn (the shadow stays at the feet).
        pts = np.vstack([f.truth[:, :2], v.extras(w, h, 30, 1)[f.seq, :, :2]])
        (x0, y0), (x1, y1) = pts.min(axis=0) - 0.12 * h, pts.max(axis=0) + 0.12 * h
        ys, xs = np.nonzero(changed)
        far = (xs < x0) | (xs > x1) | (ys < y0) | (ys > y1)
        assert changed.sum() > 0.02 * w * h and far.mean() < 0.01


def test_frames_carry_truth_and_a_fixed_clock() -> None:
    v = make_visitor(2)
    frames = list(v.frames(256, 256, 25, 1))
    kp, ex = v.keypoints(256, 256, 25, 1), v.extras(256, 256, 25, 1)
    assert [f.seq for f in frames] == list(range(25))
    assert frames[0].capture_ns == BASE_CAPTURE_NS
    assert frames[5].capture_ns - frames[4].capture_ns == 40_000_000
    for f in frames:
        assert f.truth is not None and f.truth_extras is not None
        np.testing.assert_array_equal(f.truth, kp[f.seq])
        np.testing.assert_array_equal(f.truth_extras, ex[f.seq])


def test_appearance_varies_with_the_seed() -> None:
    looks = {Appearance.from_seed(np.random.default_rng(s)) for s in range(40)}
    assert len(looks) == 40
    assert len({a.hair_style for a in looks}) == 4 and len({a.shirt_pattern for a in looks}) == 4


def test_background_plate_is_static_and_protected() -> None:
    a = background_plate(256, 256)
    assert a is background_plate(256, 256)
    with pytest.raises(ValueError):
        a[0, 0] = 0
    look = Appearance.from_seed(np.random.default_rng(0))
    with pytest.raises(ValueError, match="64-1920"):
        Renderer(4096, 480, look, BodyShape())
