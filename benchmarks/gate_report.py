"""The quality gate benchmark's figures: each rendition as a :class:`Case`, each figure's
ROC, the operating point, and the combined gate at the bench's and the settings'
thresholds (``dancebooth bench gate``, :mod:`benchmarks.gate`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from cloud.render.quality import CheckFigures, QualityGate
from cloud.settings import QualitySettings

FIGURES = ("missing", "pose_error", "appearance", "drift", "flicker_ratio")


@dataclass
class Case:
    visitor: int
    kind: str  # good | other | untrained | nobody
    label: str
    ssim: float | None
    figures: dict[str, float] = field(default_factory=dict)
    today: bool = False  # today's gate (held-out SSIM + flicker) delivers it
    checks_s: float = 0.0
    parts: dict[str, float | None] = field(default_factory=dict)  # appearance per part

    @property
    def broken(self) -> bool:
        return self.kind != "good"


def roc(cases: Sequence[Case], figure: str) -> tuple[float, list[tuple[float, float, float]]]:
    """AUC and (threshold, held good share, held broken share) with "held" = above."""
    good = [c.figures[figure] for c in cases if not c.broken]
    bad = [c.figures[figure] for c in cases if c.broken]
    points = []
    for t in sorted({-math.inf, *good, *bad}):
        fpr = sum(v > t for v in good) / max(len(good), 1)
        tpr = sum(v > t for v in bad) / max(len(bad), 1)
        points.append((t, fpr, tpr))
    pairs = [(g, b) for g in good for b in bad]
    auc = sum(1.0 if b > g else 0.5 if b == g else 0.0 for g, b in pairs) / max(len(pairs), 1)
    return auc, points


def operating_point(cases: Sequence[Case], figure: str) -> tuple[float, str]:
    """The figure's threshold and the rule that set it. A broken kind whose every rendition
    lies above the worst good one that today's gate delivers is one the figure separates:
    the threshold is halfway between that good one and the lowest such broken rendition.
    Where the figure separates no kind (or only at infinity, as the pose error of an empty
    capture), it can only catch gross failures: twice the worst good one."""
    good = [c.figures[figure] for c in cases if not c.broken and c.today]
    worst = max((g for g in good if math.isfinite(g)), default=0.0)
    lows = {}
    for kind in sorted({c.kind for c in cases if c.broken}):
        values = [c.figures[figure] for c in cases if c.kind == kind]
        if min(values) > worst and math.isfinite(min(values)):
            lows[kind] = min(values)
    if lows:
        return (worst + min(lows.values())) / 2, "halfway to the " + ", ".join(lows)
    return (2 * worst if worst > 0 else 1e-3), "twice the worst good (separates no kind)"


def _fmt(v: float | None) -> str:
    if v is None:
        return "  –  "
    return f"{v:5.2f}" if math.isfinite(v) else (" -inf" if v < 0 else "  inf")


def _table(cases: Sequence[Case]) -> None:
    click.echo(
        f"{'rendition':34s} {'ssim':>5s} {'flick':>5s} {'ratio':>5s} {'nobody':>6s} "
        f"{'pose':>5s} {'look':>5s} {'drift':>5s} {'limbs':>5s} today  checks"
    )
    for c in cases:
        f = c.figures
        click.echo(
            f"{c.label:34s} {_fmt(c.ssim)} {_fmt(f['flicker'])} {_fmt(f['flicker_ratio'])} "
            f"{f['missing']:6.0%} {_fmt(f['pose_error'])} {_fmt(f['appearance'])} "
            f"{_fmt(f['drift'])} {f['limbs_off']:5.0%} {'send ' if c.today else 'hold '} "
            f"{c.checks_s:5.2f} s"
        )


def _report_roc(cases: Sequence[Case]) -> dict[str, float]:
    chosen: dict[str, float] = {}
    rules: dict[str, str] = {}
    click.echo("\nROC per figure (held = above the threshold): threshold → held good / held broken")
    for figure in FIGURES:
        auc, points = roc(cases, figure)
        shown = ", ".join(f"{_fmt(t).strip()}→{fpr:.0%}/{tpr:.0%}" for t, fpr, tpr in points)
        click.echo(f"  {figure:13s} AUC {auc:.2f}: {shown}")
        chosen[figure], rules[figure] = operating_point(cases, figure)
    click.echo(
        "\noperating point per figure: halfway from the worst good rendition today's gate "
        "delivers to the lowest broken one of the kinds lying wholly above it; where no kind "
        "does, twice the worst good one (gross failures only). The flicker ratio's is not "
        "used: over this still plate good renditions flicker ~0, while on real footage half "
        "of them are above the booth's median by definition (the settings keep 3x):"
    )
    for figure in FIGURES:
        click.echo(f"  {figure:13s} {chosen[figure]:.3f}  {rules[figure]}")
    chosen["flicker_ratio"] = as_set()["flicker_ratio"]
    return chosen


def as_set() -> dict[str, float]:
    """The thresholds the booth runs with (cloud.settings.QualitySettings)."""
    q = QualitySettings()
    return {
        "missing": q.max_missing,
        "pose_error": q.max_pose_error,
        "appearance": q.max_appearance,
        "drift": q.max_appearance_drift,
        "flicker_ratio": q.max_flicker_vs_median,
    }


def _combined(cases: Sequence[Case], chosen: dict[str, float], name: str) -> None:
    gate = QualityGate(
        QualitySettings().min_held_out_ssim,
        QualitySettings().max_flicker,
        max_missing=chosen["missing"],
        max_pose_error=chosen["pose_error"],
        max_appearance=chosen["appearance"],
        max_appearance_drift=chosen["drift"],
    )
    click.echo(f"\n{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in chosen.items()))
    held = {}
    for c in cases:
        f = c.figures
        figures = CheckFigures(
            f["missing"], f["pose_error"], None, f["appearance"], None, f["drift"]
        )
        decision = gate.decide(c.ssim, f["flicker"], figures)
        ratio_held = f["flicker_ratio"] > chosen["flicker_ratio"]
        held[c.label] = (not decision.deliver) or ratio_held
    delivered_today = [c for c in cases if not c.broken and c.today]
    broken = [c for c in cases if c.broken]
    kept = sum(not held[c.label] for c in delivered_today)
    caught = sum(held[c.label] for c in broken)
    click.echo(
        f"  good renditions delivered today that still pass: {kept}/{len(delivered_today)}; "
        f"broken renditions held: {caught}/{len(broken)} "
        f"({caught / max(len(broken), 1):.0%}; goal ≥ 95 %)"
    )
    for kind in ("other", "untrained", "nobody"):
        sub = [c for c in broken if c.kind == kind]
        if sub:
            click.echo(f"  {kind:10s} held {sum(held[c.label] for c in sub)}/{len(sub)}")
    today_broken = sum(c.today for c in broken)
    click.echo(f"  today's gate alone sends {today_broken}/{len(broken)} broken renditions out")


def report(cases: list[Case]) -> None:
    """The table, the ROC, the bench's operating point and the settings' on ``cases``."""
    good = [c.figures["flicker"] for c in cases if not c.broken]
    # As the gate does: the booth's median counts as at least the settings' floor.
    median = max(float(np.median(good)) if good else 0.0, QualitySettings().flicker_floor)
    for c in cases:
        c.figures["flicker_ratio"] = c.figures["flicker"] / median if median > 0 else 0.0
    click.echo(
        f"\n{len(cases)} renditions; flicker ratio against the good ones' median {median:.2f}"
    )
    _table(cases)
    chosen = _report_roc(cases)
    _combined(cases, chosen, "at the operating point")
    _combined(cases, as_set(), "as set in QualitySettings")
    _agreement(cases)


def rank_correlation(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties ranked in order met; NaN below 3 pairs)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3:
        return math.nan
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def _agreement(cases: Sequence[Case]) -> None:
    """How held-out SSIM (the model's, from training) and the rendition's own figures agree
    across budgets, visitors and failures: a reference-free figure that tracked SSIM would
    add nothing; one that does not sees what SSIM cannot."""
    ssim = [c.ssim if c.ssim is not None else math.nan for c in cases]
    parts = []
    for figure in ("pose_error", "appearance", "missing"):
        rho = rank_correlation(ssim, [c.figures[figure] for c in cases])
        parts.append(f"{figure} {rho:+.2f}")
    click.echo(
        "\nrank correlation with held-out SSIM over all renditions (negative: worse as SSIM "
        "drops): " + ", ".join(parts)
    )


def load_cases(path: Path) -> list[Case]:
    """The renditions of an earlier run (``--save``), to weigh thresholds without retraining."""
    data = json.loads(path.read_text())
    return [Case(**c) for c in data]
