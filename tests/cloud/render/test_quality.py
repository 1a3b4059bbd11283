"""Flicker measure and quality gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloud.render.quality import FlickerMeter, QualityGate, measure_flicker
from common.posemap import draw_pose, pose_map
from tests.cloud.render.skeletons import walk

SIZE = 128


def _dance(n: int = 20) -> np.ndarray:
    """A dancer crossing the frame: lots of motion, all of it on the body."""
    return walk(np.linspace(30, 98, n), np.full(n, 118.0), np.full(n, 90.0))


def _renditions(noise: float, n: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kps = _dance(n)
    maps = np.stack([pose_map(k, SIZE, SIZE) for k in kps])
    frames = []
    for k in kps:
        bg = np.full((SIZE, SIZE, 3), 110.0) + rng.normal(0, noise, (SIZE, SIZE, 1))
        img = np.clip(bg, 0, 255).astype(np.uint8)
        frames.append(draw_pose(img, k, thickness=5))  # the "dancer", a bit wider than the map
    return maps, np.stack(frames)


def test_a_still_background_has_no_flicker_however_much_the_dancer_moves() -> None:
    maps, frames = _renditions(noise=0.0)
    r = measure_flicker(maps, frames)
    assert r.steps == 19
    assert r.flicker == pytest.approx(0.0, abs=1e-6)
    assert r.rendition_change > 0.5  # the dancer did move
    assert r.pose_change > 0.5
    assert 0.3 < r.static_fraction < 1.0


def test_shimmering_background_is_measured_in_grey_levels() -> None:
    maps, frames = _renditions(noise=8.0)
    r = measure_flicker(maps, frames)
    # |N(0,8) - N(0,8)| has mean 8 * sqrt(2) * sqrt(2/pi) ~ 9.0 (a little less from rounding).
    assert r.flicker == pytest.approx(8 * math.sqrt(2) * math.sqrt(2 / math.pi), rel=0.08)
    more = measure_flicker(*_renditions(noise=16.0))
    assert more.flicker > 1.8 * r.flicker


def test_streaming_meter_matches_the_whole_clip_measure() -> None:
    maps, frames = _renditions(noise=4.0)
    meter = FlickerMeter()
    for p, f in zip(maps, frames, strict=True):
        meter.update(p, f)
    assert meter.report() == measure_flicker(maps, frames)


def test_mismatched_inputs_are_refused() -> None:
    maps, frames = _renditions(noise=0.0, n=3)
    with pytest.raises(ValueError, match="differ"):
        FlickerMeter().update(maps[0], frames[0][:64])
    with pytest.raises(ValueError, match="alike"):
        measure_flicker(maps, frames[:2])
    with pytest.raises(ValueError, match="margin"):
        FlickerMeter(margin=0.7)


GATE = QualityGate(min_held_out_ssim=0.6, max_flicker=5.0)


def test_gate_delivers_a_good_rendition() -> None:
    d = GATE.decide(0.72, 1.5)
    assert d.deliver and d.status == "deliver" and d.reasons == ()


@pytest.mark.parametrize(
    "ssim,flicker,expect",
    [
        (0.4, 1.0, "SSIM 0.400 is below"),
        (0.8, 7.0, "flicker 7.00 exceeds"),
        (None, 1.0, "no held-out SSIM"),
        (float("nan"), 1.0, "no held-out SSIM"),
        (0.8, float("nan"), "not a number"),
    ],
)
def test_gate_sends_bad_renditions_to_review_with_the_reason(
    ssim: float | None, flicker: float, expect: str
) -> None:
    d = GATE.decide(ssim, flicker)
    assert not d.deliver and d.status == "needs_review"
    assert any(expect in r for r in d.reasons)


def test_gate_lists_every_failure_and_takes_a_report() -> None:
    maps, frames = _renditions(noise=16.0)
    d = GATE.decide(0.1, measure_flicker(maps, frames))
    assert len(d.reasons) == 2
