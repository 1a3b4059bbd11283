"""The quality check of ``reference add``: synthetic booth videos that should pass and
should not (a second person, cut-off feet, long empty stretches), and what it says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from common.reference import load_reference
from common.reference_add import (
    AddOptions,
    QualityReport,
    ReferenceAddError,
    ReferenceRejected,
)
from dancebooth.cli import cli
from edge.reference_add import add_reference
from tests.edge import reference_fixtures as fx

pytest.importorskip("av")


def _add(tmp: Path, name: str, kps: np.ndarray, **opts: object):
    video, npy = fx.clip(tmp, name, kps, audio=None)
    options = AddOptions(root=tmp / "dances", backend="replay", keypoints=npy, **opts)
    return add_reference(video, name, options)


def _refused(tmp: Path, name: str, kps: np.ndarray, **opts: object) -> QualityReport:
    with pytest.raises(ReferenceRejected) as info:
        _add(tmp, name, kps, **opts)
    assert not (tmp / "dances" / name).exists()
    assert not [p for p in (tmp / "dances").iterdir() if p.name.startswith(".adding")]
    return info.value.report


def _codes(report: QualityReport) -> set[str]:
    return {p.code for p in report.problems}


def test_a_clean_dancer_passes_and_the_report_is_stored(tmp_path: Path) -> None:
    result = _add(tmp_path, "clean", fx.dancer())
    r = result.report
    assert r.passed and not r.forced, r.summary()
    assert r.dancer_found == 1.0 and r.people_max == 1 and r.dancer_changes == 0
    assert r.feet_visible > 0.95 and r.motion_energy > 0.1
    assert set(r.imputed) == {"head", "torso", "arms", "legs", "feet"}
    assert r.duration_s == pytest.approx(4.0)
    meta = json.loads((result.path / "dance.json").read_text())
    assert QualityReport.model_validate(meta["quality"]) == r
    dance = load_reference("clean", tmp_path / "dances")
    assert dance.repaired is not None and dance.repaired.shape == (dance.frames, 21)


def test_a_second_person_is_refused_until_the_dancer_is_picked(tmp_path: Path) -> None:
    two = fx.with_second_person(fx.dancer())
    r = _refused(tmp_path, "pair", two)
    assert "several_people" in _codes(r) and r.people_max == 2
    assert any("--person" in p.advice for p in r.problems)
    for choice, x_side in ((0, "left"), (1, "right"), ("largest", "left")):
        picked = _add(tmp_path, f"pair-{x_side}-{choice}", two, person=choice)
        assert picked.report.passed, picked.report.summary()
        kps = load_reference(picked.name, tmp_path / "dances").keypoints
        mean_x = float(kps[:, :, 0].mean())
        assert (mean_x < fx.W * 0.6) if x_side == "left" else (mean_x > fx.W * 0.6)


def test_a_passer_by_who_leaves_is_allowed(tmp_path: Path) -> None:
    r = _add(tmp_path, "passer", fx.with_second_person(fx.dancer(), share=0.1)).report
    assert r.passed, r.summary()
    assert r.people_max == 2 and 0 < r.multi_people <= 0.15


def test_a_handover_to_someone_else_is_refused(tmp_path: Path) -> None:
    r = _refused(tmp_path, "handover", fx.handover(fx.dancer()))
    assert "dancer_changed" in _codes(r) and r.dancer_changes == 1
    assert "the followed dancer changed 1 times" in r.summary()


def test_cut_off_feet_are_refused_with_the_share(tmp_path: Path) -> None:
    r = _refused(tmp_path, "nofeet", fx.feet_cut_off(fx.dancer(), 0.6))
    assert "feet_cut_off" in _codes(r)
    assert "the feet are cut off in 60% of frames" in r.summary()
    r = _add(tmp_path, "fewfeet", fx.feet_cut_off(fx.dancer(), 0.1)).report
    assert r.passed, r.summary()


def test_a_long_empty_stretch_is_refused_with_where(tmp_path: Path) -> None:
    r = _refused(tmp_path, "empty", fx.empty_stretch(fx.dancer(5.0), 2.0, 2.0))
    assert {"long_gap", "dancer_missing"} <= _codes(r)
    assert "nobody dances for 2.0 s from 2.0 s" in r.summary()
    assert r.dancer_found == pytest.approx(0.6, abs=0.01)
    r = _add(tmp_path, "blink", fx.empty_stretch(fx.dancer(5.0), 2.0, 0.2)).report
    assert r.passed, r.summary()  # a 0.2 s dropout is repaired, not refused


def test_force_keeps_a_refused_dance_marked_as_such(tmp_path: Path) -> None:
    result = _add(tmp_path, "kept", fx.feet_cut_off(fx.dancer(), 0.6), force=True)
    assert result.report.forced and not result.report.passed
    meta = json.loads((result.path / "dance.json").read_text())
    assert meta["quality"]["forced"] is True and meta["quality"]["passed"] is False
    _add(tmp_path, "fine", fx.dancer())
    listing = CliRunner().invoke(cli, ["reference", "list", "--root", str(tmp_path / "dances")])
    rows = {line.split()[0]: line for line in listing.output.splitlines()[1:]}
    assert " forced " in rows["kept"] and " ok " in rows["fine"]


@pytest.mark.parametrize(
    ("kps", "message"),
    [
        (fx.head_and_shoulders(fx.dancer()), "head and shoulders"),
        (np.zeros_like(fx.dancer()), "no person"),
    ],
    ids=["head-and-shoulders", "nobody"],
)
def test_no_whole_person_is_an_error_even_with_force(
    tmp_path: Path, kps: np.ndarray, message: str
) -> None:
    with pytest.raises(ReferenceAddError, match=message) as info:
        _add(tmp_path, "x", kps, force=True)
    assert not isinstance(info.value, ReferenceRejected)
    assert [p.name for p in (tmp_path / "dances").iterdir()] == []
