"""``dancebooth bench gate``: the quality gate's figures on renditions that should and
should not reach a visitor, the ROC of each figure, the chosen operating point, and what
the checks cost next to the render.

* ``--part roc`` — synthetic visitors (``edge.synthetic``) each fine-tuned from the booth
  checkpoint at several wall-clock budgets (the renditions the booth delivers), and
  deliberately broken renditions: the visitor drawn by **another visitor's** generator,
  by the **untrained** booth checkpoint (one step, only to get its held-out SSIM), and by
  a generator fine-tuned on a capture with **nobody** in it (the booth's empty plate with
  the visitor's keypoints and empty masks: a tracker that followed passers-by). Every
  rendition is rendered as the worker does (:func:`cloud.render.rendition.make_rendition`,
  over the plate, dance trimmed to ``--seconds``) and checked as the worker does
  (:func:`cloud.render.checks.check_rendition`, BlazePose in this process). Printed: each
  rendition's figures and today's decision (held-out SSIM + flicker), each figure's ROC
  (held broken share against held good share over thresholds) and AUC, and the operating
  point: per figure, halfway between the worst good rendition that today's gate delivers
  and the next broken one above it, then the combined gate on all renditions.
* ``--part cost`` — a full rendition at 128 and 256 px (booth checkpoints, the camera's
  resolution as delivered), the render's wall time against the checks' (through the
  worker's long-lived BlazePose child, warmed up), with the machine's load.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import click
import cv2
import numpy as np

from cloud.render import appearance
from cloud.render.checks import check_rendition, visitor_signatures
from cloud.render.inputs import Dance, VisitorClip, camera_fps, dance_by_name
from cloud.render.quality import CheckFigures, QualityGate
from cloud.render.rendition import Rendition, make_rendition
from cloud.render.torch_generator import TorchGenerator
from cloud.render.video import RenditionTags
from cloud.settings import QualitySettings, RenderSettings
from cloud.training.base import DEFAULT_BOOTH_CHECKPOINT
from cloud.training.finetune import finetune
from cloud.training.loop import RunOptions
from common.pose_check import Keypoints, PoseFn, PoseServer
from edge.pose import build_estimator
from edge.pose_frames import estimate_frames, gate_settings
from edge.synthetic.background import background_plate
from edge.synthetic.corpus import write_corpus
from protocol.shards import ShardWriter, read_shard

logger = logging.getLogger(__name__)

FIGURES = ("missing", "pose_error", "appearance", "drift", "flicker_ratio")
CAMERA = 256  # the synthetic booth camera (square), as the booth checkpoint's corpus


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min)"


@dataclass
class Case:
    visitor: int
    kind: str  # good | other | untrained | nobody
    label: str
    ssim: float | None
    figures: dict[str, float] = field(default_factory=dict)
    today: bool = False  # today's gate (held-out SSIM + flicker) delivers it
    checks_s: float = 0.0

    @property
    def broken(self) -> bool:
        return self.kind != "good"


def clip_of(shard: Path) -> VisitorClip:
    """A session's clip as the worker reads it, from its one shard."""
    frames = list(read_shard(shard))
    kps = np.stack([m.keypoints_array() for m, _, _ in frames])
    picks = [int(i) for i in np.linspace(0, len(frames) - 1, 15).round()]
    m0 = frames[0].meta
    return VisitorClip(
        kps,
        m0.width,
        m0.height,
        m0.node,
        tuple(frames[i].jpeg for i in picks),
        camera_fps([m.capture_ns for m, _, _ in frames]),
        tuple(picks),
        tuple(frames[i].mask for i in picks),
    )


def nobody_shard(shard: Path, out: Path) -> Path:
    """``shard`` with the booth's empty plate for every frame and empty person masks,
    its keypoints kept: a capture in which nobody danced."""
    frames = list(read_shard(shard))
    m0 = frames[0].meta
    ok, jpeg = cv2.imencode(
        ".jpg", background_plate(m0.width, m0.height), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    assert ok
    with ShardWriter(out) as writer:
        for meta, _, mask in frames:
            empty = None if mask is None else np.zeros_like(mask)
            writer.add(meta, jpeg.tobytes(), empty)
    return out


def fit(
    shard: Path, budget: float, work: Path, max_steps: int = 10**9
) -> tuple[Path, float | None]:
    """Fine-tune the booth checkpoint on ``shard`` for ``budget`` s: (weights, held-out SSIM)."""
    opts = RunOptions(budget_s=budget, max_steps=max_steps, eval_every_s=max(budget / 3, 5.0))
    result = finetune(
        [shard], DEFAULT_BOOTH_CHECKPOINT, budget, max_steps, work_dir=work, options=opts
    )
    ssim = result.run.metrics.get("ssim")
    return result.checkpoint, float(ssim) if ssim is not None else None


def render_case(
    weights: Path, clip: VisitorClip, dance: Dance, out: Path, runs: int, run_length: int
) -> Rendition:
    gen = TorchGenerator.from_checkpoint(weights, device="cpu")
    return make_rendition(
        gen,
        clip,
        dance,
        out,
        tags=RenditionTags("bench", gen.model_version, dance.name),
        settings=RenderSettings(intro_s=0, outro_s=0),
        plate=background_plate(clip.width, clip.height),
        sample_runs=runs,
        sample_run_length=run_length,
    )


def measure(
    case: Case,
    rendition: Rendition,
    visitor: list[dict[str, appearance.Signature | None]],
    estimate: PoseFn,
    today: QualityGate,
) -> None:
    assert rendition.samples is not None
    checks = check_rendition(rendition.samples, estimate, visitor)
    f = CheckFigures.from_report(checks.report())
    flicker = rendition.result.flicker.flicker
    case.figures = {
        "missing": f.missing if f.missing is not None else 1.0,
        "pose_error": f.pose_error if f.pose_error is not None else math.inf,
        "appearance": f.appearance if f.appearance is not None else math.inf,
        "drift": f.drift if f.drift is not None else 0.0,
        "flicker": flicker,
        "limbs_off": checks.pose.limbs_off,
    }
    case.today = today.decide(case.ssim, flicker).deliver
    case.checks_s = checks.seconds


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


def operating_point(cases: Sequence[Case], figure: str) -> float:
    """Halfway between the worst delivered-today good rendition and the next broken one."""
    good = [c.figures[figure] for c in cases if not c.broken and c.today]
    worst = max((g for g in good if math.isfinite(g)), default=0.0)
    above = [c.figures[figure] for c in cases if c.broken and c.figures[figure] > worst]
    nxt = min(above, default=math.inf)
    return (worst + nxt) / 2 if math.isfinite(nxt) else worst * 1.5 + 1e-3


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
    chosen = {}
    click.echo("\nROC per figure (held = above the threshold): threshold → held good / held broken")
    for figure in FIGURES:
        auc, points = roc(cases, figure)
        shown = ", ".join(f"{_fmt(t).strip()}→{fpr:.0%}/{tpr:.0%}" for t, fpr, tpr in points)
        click.echo(f"  {figure:13s} AUC {auc:.2f}: {shown}")
        chosen[figure] = operating_point(cases, figure)
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
    median = float(np.median(good)) if good else 0.0
    for c in cases:
        c.figures["flicker_ratio"] = c.figures["flicker"] / median if median > 0 else 0.0
    click.echo(
        f"\n{len(cases)} renditions; flicker ratio against the good ones' median {median:.2f}"
    )
    _table(cases)
    chosen = _report_roc(cases)
    _combined(cases, chosen, "operating point (halfway from the worst good to the next broken)")
    _combined(cases, as_set(), "as set in QualitySettings")


def load_cases(path: Path) -> list[Case]:
    """The renditions of an earlier run (``--save``), to weigh thresholds without retraining."""
    data = json.loads(path.read_text())
    return [Case(**c) for c in data]


def run_roc(
    visitors: int,
    budgets: Sequence[float],
    nobody_budget: float,
    seconds: float,
    runs: int,
    run_length: int,
    save: Path | None = None,
) -> None:
    today = QualityGate(QualitySettings().min_held_out_ssim, QualitySettings().max_flicker)
    dance = dance_by_name("wave-party")
    n = max(2, round(seconds * dance.fps))
    dance = replace(dance, keypoints=dance.keypoints[:n], music=None, video=None)
    with tempfile.TemporaryDirectory(prefix="dancebooth-bench-gate-") as tmp_s:
        tmp = Path(tmp_s)
        click.echo(f"corpus: {visitors} synthetic visitors, {CAMERA} px, 15 fps, 8 s; {load()}")
        corpus = write_corpus(
            tmp / "corpus", staff=0, visitors=visitors, resolution=CAMERA, fps=15.0, duration_s=8.0
        )
        shards = [corpus.root / s.shard for s in corpus.sessions if s.role == "visitor"]
        clips = [clip_of(s) for s in shards]
        weights: dict[tuple[int, str], tuple[Path, float | None]] = {}
        for v, shard in enumerate(shards):
            for b in budgets:
                click.echo(f"visitor {v}: fine-tune {b:g} s; {load()}")
                weights[(v, f"good {b:g}s")] = fit(shard, b, tmp / f"v{v}-{b:g}")
            click.echo(f"visitor {v}: booth checkpoint (1 step); {load()}")
            weights[(v, "untrained")] = fit(shard, 60.0, tmp / f"v{v}-untrained", max_steps=1)
            empty = nobody_shard(shard, tmp / f"nobody-{v}.tar")
            click.echo(
                f"visitor {v}: fine-tune {nobody_budget:g} s on a capture with nobody; {load()}"
            )
            weights[(v, "nobody")] = fit(empty, nobody_budget, tmp / f"v{v}-nobody")
        est = build_estimator(gate_settings())

        def estimate(frames: np.ndarray, index: Sequence[int]) -> list[Keypoints | None]:
            return estimate_frames(frames, index, est)

        cases: list[Case] = []
        top = f"good {max(budgets):g}s"
        for v, clip in enumerate(clips):
            visitor = visitor_signatures(clip, 128)
            plan = [(f"good {b:g}s", "good", (v, f"good {b:g}s")) for b in budgets]
            other = (v + 1) % len(clips)
            plan += [
                (f"other visitor's ({other}) generator", "other", (other, top)),
                ("untrained booth checkpoint", "untrained", (v, "untrained")),
                ("capture with nobody in it", "nobody", (v, "nobody")),
            ]
            for label, kind, key in plan:
                path, ssim = weights[key]
                case = Case(v, kind, f"v{v} {label}", ssim)
                rendition = render_case(path, clip, dance, tmp / "r.mp4", runs, run_length)
                measure(case, rendition, visitor, estimate, today)
                cases.append(case)
        est.close()
    click.echo(f"renditions checked; {load()}")
    if save is not None:
        save.write_text(json.dumps([asdict(c) for c in cases], default=str))
        click.echo(f"figures saved to {save}")
    report(cases)


def run_cost(sizes: Sequence[int], seconds: float, runs: int, run_length: int) -> None:
    dance = dance_by_name("wave-party")
    n = max(2, round(seconds * dance.fps))
    dance = replace(dance, keypoints=dance.keypoints[:n], music=None, video=None)
    with (
        tempfile.TemporaryDirectory(prefix="dancebooth-bench-gate-") as tmp_s,
        PoseServer() as pose,
    ):
        tmp = Path(tmp_s)
        corpus = write_corpus(
            tmp / "corpus", staff=0, visitors=1, resolution=CAMERA, fps=30.0, duration_s=4.0
        )
        clip = clip_of(corpus.root / corpus.sessions[0].shard)
        pose(np.zeros((1, 64, 64, 3), np.uint8), [0])  # start the child and load the models
        for size in sizes:
            weights = DEFAULT_BOOTH_CHECKPOINT.with_name(f"booth-{size}.safetensors")
            before = load()
            cpu0 = time.process_time()
            rendition = render_case(weights, clip, dance, tmp / "r.mp4", runs, run_length)
            render_cpu = time.process_time() - cpu0
            assert rendition.samples is not None
            visitor = visitor_signatures(clip, size)
            checks = check_rendition(rendition.samples, pose, visitor)
            r = rendition.result
            click.echo(
                f"{size} px: render {r.frames} frames at {r.width}x{r.height} in {r.seconds:.2f} s "
                f"(this process' CPU {render_cpu:.2f} s); checks of "
                f"{len(rendition.samples.frames)} frames {checks.seconds:.2f} s = "
                f"{checks.seconds / r.seconds:.1%} of the render "
                f"(goal ≤ {10 if size == 128 else 20} %); {before} → {load()}"
            )


@click.command("gate")
@click.option("--part", type=click.Choice(["roc", "cost", "all"]), default="all", show_default=True)
@click.option("--visitors", default=3, show_default=True, help="synthetic visitors (roc)")
@click.option(
    "--budget",
    "budgets",
    type=float,
    multiple=True,
    default=(20.0, 60.0),
    show_default=True,
    help="fine-tune budgets of the good renditions, s (roc)",
)
@click.option(
    "--nobody-budget", default=20.0, show_default=True, help="fine-tune on the empty capture, s"
)
@click.option("--seconds", default=6.0, show_default=True, help="dance length rendered (roc)")
@click.option(
    "--size",
    "sizes",
    type=int,
    multiple=True,
    default=(128, 256),
    show_default=True,
    help="generator sizes (cost; a 15 s dance)",
)
@click.option("--runs", default=QualitySettings().sample_runs, show_default=True)
@click.option("--run-length", default=QualitySettings().run_length, show_default=True)
@click.option(
    "--save", type=click.Path(dir_okay=False, path_type=Path), help="roc: keep the figures"
)
@click.option(
    "--figures",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="roc: report a saved run's figures (no training) against the current settings",
)
def bench_gate(
    part: str,
    visitors: int,
    budgets: tuple[float, ...],
    nobody_budget: float,
    seconds: float,
    sizes: tuple[int, ...],
    runs: int,
    run_length: int,
    save: Path | None,
    figures: Path | None,
) -> None:
    """The quality gate: ROC of each figure on good and broken renditions, the operating
    point, and the checks' cost against the render."""
    logging.getLogger("cloud").setLevel(logging.WARNING)
    if figures is not None:
        report(load_cases(figures))
        return
    if part in ("cost", "all"):
        run_cost(sizes, 15.0, runs, run_length)
    if part in ("roc", "all"):
        run_roc(visitors, budgets, nobody_budget, seconds, runs, run_length, save)
