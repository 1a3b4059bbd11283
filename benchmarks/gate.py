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
  point with its rule per figure (:func:`benchmarks.gate_report.operating_point`), then the
  combined gate on all renditions at it and at the settings' thresholds.
* ``--part cost`` — a full rendition at 128 and 256 px (booth checkpoints, the camera's
  resolution as delivered), the render's wall time against the checks' (through the
  worker's long-lived BlazePose child, warmed up), with the machine's load.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import click
import cv2
import numpy as np

from benchmarks.gate_report import Case, load_cases, report
from cloud.booth_models import DEFAULT_BOOTH_CHECKPOINT, booth_checkpoint
from cloud.render import appearance
from cloud.render.checks import check_rendition, visitor_signatures
from cloud.render.inputs import Dance, VisitorClip, camera_fps, dance_by_name
from cloud.render.quality import CheckFigures, QualityGate
from cloud.render.rendition import Rendition, make_rendition
from cloud.render.torch_generator import TorchGenerator
from cloud.render.video import RenditionTags
from cloud.settings import QualitySettings, RenderSettings
from cloud.training.finetune import finetune
from cloud.training.loop import RunOptions
from common.pose_check import Keypoints, PoseFn, PoseServer
from edge.pose import build_estimator
from edge.pose_frames import estimate_frames, gate_settings
from edge.synthetic.background import background_plate
from edge.synthetic.corpus import write_corpus
from protocol.shards import ShardWriter, read_shard

logger = logging.getLogger(__name__)

CAMERA = 256  # the synthetic booth camera (square), as the booth checkpoint's corpus


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min)"


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
    keep: Path | None = None,
) -> None:
    assert rendition.samples is not None
    checks = check_rendition(rendition.samples, estimate, visitor)
    if keep is not None:
        s = rendition.samples
        with (keep / f"{case.label.replace(' ', '_')}.pkl").open("wb") as fh:
            pickle.dump((s.frames, s.keypoints, s.alphas, s.indices, checks.detected), fh)
    if checks.appearance is not None:
        case.parts = dict(checks.appearance.parts)
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


def run_roc(
    visitors: int,
    budgets: Sequence[float],
    nobody_budget: float,
    seconds: float,
    runs: int,
    run_length: int,
    save: Path | None = None,
    keep: Path | None = None,
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
            if keep is not None:
                with (keep / f"v{v}_clip.pkl").open("wb") as fh:
                    pickle.dump(clip, fh)
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
                measure(case, rendition, visitor, estimate, today, keep)
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
            weights = booth_checkpoint(size)
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
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="roc: pickle each visitor's clip and each rendition's sampled frames here, to study "
    "the measures without retraining",
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
    keep: Path | None,
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
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
        run_roc(visitors, budgets, nobody_budget, seconds, runs, run_length, save, keep)
