"""Flicker measure and quality gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cloud.render.quality import CheckFigures, FlickerMeter, QualityGate, measure_flicker
from cloud.settings import QualitySettings
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


CHECKED = QualityGate(
    min_held_out_ssim=0.5,
    max_flicker=6.0,
    max_missing=0.25,
    max_pose_error=0.35,
    max_appearance=0.45,
    max_appearance_drift=0.2,
    max_flicker_vs_median=4.0,
)
GOOD = CheckFigures(missing=0.0, pose_error=0.1, appearance=0.2, drift=0.0)


@pytest.mark.parametrize(
    "figures,median,expect",
    [
        (GOOD, 1.0, None),
        (GOOD, None, None),  # too few renditions for a median: not judged against it
        (CheckFigures(missing=1.0), 1.0, "no dancer found in 100% of the checked frames"),
        (
            CheckFigures(missing=0.0, pose_error=0.8, worst_pose_part="legs"),
            1.0,
            "the drawn pose is off by 0.80 torso lengths (maximum 0.35, worst: the legs)",
        ),
        (
            CheckFigures(missing=0.0, appearance=0.7, worst_look_part="torso"),
            1.0,
            "the drawn person does not look like the visitor: colour distance 0.70 over the "
            "body (maximum 0.45, furthest: the torso)",
        ),
        (
            CheckFigures(missing=0.0, drift=0.3, drifting_part="legs"),
            1.0,
            "the legs drift away from the visitor over the video: +0.30",
        ),
        (GOOD, 0.5, "flicker 3.00 is 6.0x the booth's running median 0.50 (maximum 4x)"),
        (CheckFigures(error="no models"), 1.0, "the dancer check could not run (no models)"),
        (None, 1.0, "the dancer check could not run (the rendition was not checked)"),
    ],
)
def test_the_checks_hold_a_rendition_with_the_figure_and_its_limit(
    figures: CheckFigures | None, median: float | None, expect: str | None
) -> None:
    d = CHECKED.decide(0.8, 3.0, figures, median)
    if expect is None:
        assert d.deliver, d.reasons
    else:
        assert not d.deliver and any(expect in r for r in d.reasons), d.reasons


def test_no_reason_holds_the_separator_the_stored_reasons_are_split_on() -> None:
    """The worker stores the reasons joined by "; " and the review dialog splits them there:
    a reason with "; " inside would show as two."""
    bad = CheckFigures(1.0, 0.9, "legs", 0.9, "torso", 0.9, "head")
    for ssim, figures in ((None, bad), (0.1, CheckFigures(error="no models"))):
        reasons = CHECKED.decide(ssim, 30.0, figures, 1.0).reasons
        assert len(reasons) >= 2 and not any("; " in r for r in reasons), reasons
    assert len(CHECKED.decide(0.8, 3.0, bad, 0.1).reasons) == 5


def test_a_gate_without_checks_ignores_missing_figures() -> None:
    assert GATE.decide(0.8, 1.0, None, 0.01).deliver


def test_figures_come_from_the_render_reports_worst_parts() -> None:
    report = {
        "pose": {"missing": 0.1, "mean_error": 0.3, "parts": {"arms": 0.5, "legs": None}},
        "appearance": {
            "overall": 0.3,
            "parts": {"head": 0.2, "torso": 0.4},
            "drift": {"legs": 0.1},
        },
    }
    f = CheckFigures.from_report(report)
    assert (f.missing, f.pose_error, f.worst_pose_part) == (0.1, 0.3, "arms")
    assert (f.appearance, f.worst_look_part, f.drift, f.drifting_part) == (
        0.3,
        "torso",
        0.1,
        "legs",
    )
    assert CheckFigures.from_report(None).error == "the rendition was not checked"
    assert CheckFigures.from_report(report, "boom").error == "boom"


def test_a_still_booths_tiny_median_flicker_counts_as_the_floor() -> None:
    """Dancers drawn over a still plate flicker ~0.01: 0.05 is 5x that but no flicker a
    visitor sees, so the median counts as at least the floor; real flicker is still held."""
    gate = QualityGate(0.5, 6.0, max_flicker_vs_median=3.0, flicker_floor=0.1)
    assert gate.decide(0.8, 0.05, None, 0.01).deliver
    held = gate.decide(0.8, 0.5, None, 0.01)
    assert not held.deliver and "5.0x the booth's running median 0.10" in held.reasons[0]
    assert QualityGate.from_settings(QualitySettings()).flicker_floor == 0.1
