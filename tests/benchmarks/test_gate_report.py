"""The gate benchmark's arithmetic: ROC, AUC and the operating point on a few cases, and a
saved run read back."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from benchmarks.gate_report import Case, load_cases, operating_point, roc


def _case(kind: str, look: float, today: bool = True) -> Case:
    figures = {"appearance": look, "missing": 0.0, "pose_error": 0.1, "drift": 0.0}
    return Case(0, kind, f"{kind} {look}", 0.9, {**figures, "flicker": 0.3}, today)


def test_a_figure_that_separates_has_auc_one_and_a_threshold_between() -> None:
    cases = [_case("good", 0.3), _case("good", 0.4), _case("other", 0.6), _case("nobody", 0.8)]
    auc, points = roc(cases, "appearance")
    assert auc == 1.0
    assert (0.4, 0.0, 1.0) in points  # above 0.4: no good one held, every broken one
    assert operating_point(cases, "appearance") == (0.5, "halfway to the nobody, other")


def test_a_figure_that_holds_few_broken_ones_only_catches_gross_failures() -> None:
    cases = [_case("good", 0.3), _case("good", 0.4), _case("other", 0.35), _case("other", 0.8)]
    assert operating_point(cases, "appearance") == (0.8, "twice the worst good (separates no kind)")
    cases += [_case("nobody", math.inf)]  # separated only at infinity: no threshold from it
    assert operating_point(cases, "appearance")[0] == 0.8
    cases += [_case("nobody", 0.6)]  # now the empty captures are separated from 0.6 up
    assert operating_point(cases, "appearance") == (0.5, "halfway to the nobody")


def test_good_renditions_today_holds_do_not_set_the_threshold() -> None:
    cases = [_case("good", 0.3), _case("good", 0.9, today=False), _case("other", 0.6)]
    assert math.isclose(operating_point(cases, "appearance")[0], 0.45)
    assert math.isclose(roc(cases, "appearance")[0], 0.5)


def test_a_saved_run_reads_back(tmp_path: Path) -> None:
    cases = [_case("good", 0.3), _case("untrained", math.inf)]
    path = tmp_path / "figures.json"
    path.write_text(json.dumps([asdict(c) for c in cases]))
    assert load_cases(path) == cases
