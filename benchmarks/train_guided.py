"""``dancebooth bench train --part quality --guided``: does dancing along with the
reference (guided capture) make the rendition better than dancing free?

For each held-out synthetic visitor, the booth checkpoint is fine-tuned twice for the
same wall-clock budget: on their free-style clip (what the booth captured before the
stage screen, ``--capture`` seconds), and on a clip of them dancing along with a shipped
reference dance for as long as the booth's guided capture lasts (the dance's length, at
most ``api.guided_max_s``: :meth:`cloud.settings.ApiSettings.capture_length`) through the
dance-along model (:mod:`edge.synthetic.dancealong`: late, loose, skipping
moves, now and then the wrong arm). Both are scored on what the product renders: the
same visitor performing that reference exactly (the transfer set), framed as the clip
they were trained on frames them. Each clip's capture QA coverage of the reference
(:mod:`cloud.qa.poses`) is printed next to its score, and plotted (SSIM against
coverage: where rendered quality drops is where the QA threshold belongs). Each run's
optimiser steps by the mark are printed too: the budget is wall clock, so a loaded
machine trains less in it. With ``--ceiling`` each visitor is also fine-tuned on a clip of
the visitor performing the reference perfectly (the transfer set's own poses, 30 fps):
what no capture can beat in the same budget.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np

from benchmarks.train import at_time, load_average
from cloud.qa.poses import score_poses
from cloud.settings import ApiSettings, CaptureQaSettings
from cloud.training.config import Pix2PixConfig
from cloud.training.data import FrameSet, build_frameset, clip_crop, holdout_indices
from cloud.training.finetune import finetune
from cloud.training.loop import RunOptions
from common.machine import describe_machine
from common.reference import load_reference
from edge.synthetic.corpus import VISITOR_SEED_BASE, write_session
from edge.synthetic.dancealong import dance_along
from edge.synthetic.dances import routine
from edge.synthetic.noise import NoiseModel
from edge.synthetic.routines import ROUTINES
from edge.synthetic.visitor import SyntheticVisitor, make_visitor
from protocol.shards import read_shard

KEY = "transfer_region_ssim"
CLIP_RESOLUTION = 256  # the corpus's: the fine-tune crops and resizes to the model's
MARK_S = 120.0  # the figure: dancer SSIM after 120 s
TRUTH_FPS = 10.0  # the transfer set keeps 32 frames spread over the dance: 10 fps is plenty


@dataclass(frozen=True)
class GuidedResult:
    visitor: str
    dance: str
    free_ssim: float
    guided_ssim: float
    free_coverage: float | None
    guided_coverage: float | None
    free_steps: int
    guided_steps: int
    ceiling_ssim: float | None = None  # --ceiling: a perfect imitation of the reference
    ceiling_steps: int | None = None
    ceiling_coverage: float | None = None


def _performing(
    visitor: SyntheticVisitor, dance: str, *, along: bool, capture_s: float
) -> SyntheticVisitor:
    r = ROUTINES[dance]
    exact = routine(r.seed, r.bpm, r.moves)
    steps = dance_along(exact, visitor.seed, capture_s) if along else exact
    return SyntheticVisitor(
        shape=visitor.shape,
        choreography=steps,
        appearance=visitor.appearance,
        seed=visitor.seed,
        freestyle=False,
    )


def _shard(dancer: SyntheticVisitor, session: str, root: Path, fps: float, seconds: float) -> Path:
    write_session(
        dancer,
        session,
        root,
        resolution=CLIP_RESOLUTION,
        fps=fps,
        duration_s=seconds,
        keypoints="noisy",
        noise=NoiseModel(),
    )
    found = sorted((root / "sessions" / session).rglob("*.tar"))
    if not found:
        raise click.ClickException(f"no shard written for {session} under {root}")
    return found[0]


def coverage(shard: Path, dance: str, q: CaptureQaSettings) -> float | None:
    """Capture QA's coverage of ``dance`` by the keypoints stored in ``shard``."""
    metas = [meta for meta, _jpeg, _mask in read_shard(shard)]
    kps = np.stack([m.keypoints_array() for m in metas])
    ref = load_reference(dance).keypoints
    scores = score_poses(
        kps,
        metas[0].width,
        metas[0].height,
        ref,
        min_conf=q.min_conf,
        min_joints=q.min_joints,
        match_distance=q.match_distance,
    )
    return scores.coverage


def _scored(truth: Path, clip: Path, resolution: int) -> FrameSet:
    """The transfer set framed as ``clip`` frames the visitor (as the renderer would)."""
    data = build_frameset([truth], resolution, crop=clip_crop([clip]))
    return data.subset(holdout_indices(len(data), maximum=32))


def _fit(
    clip: Path,
    truth: Path,
    booth: Path,
    budget: float,
    opts: RunOptions,
    cfg: Pix2PixConfig,
    scored_at: int,
    tmp: Path,
) -> tuple[float, int]:
    """The transfer score at the mark, and the optimiser steps taken by then."""
    also = {"transfer": _scored(truth, clip, scored_at)}
    result = finetune(
        [clip],
        booth,
        budget,
        10**9,
        work_dir=tmp,
        options=opts,
        also_score=also,
        dancer_only=cfg.dancer_only,
    )
    mark = min(MARK_S, budget)
    return at_time(result.run.history, KEY, mark), round(at_time(result.run.history, "step", mark))


def run_guided(
    booth: Path,
    cfg: Pix2PixConfig,
    visitors: int,
    budget: float,
    opts: RunOptions,
    capture_s: float,
    scored_at: int,
    plot: Path | None,
    fps: float = 30.0,
    ceiling: bool = False,
) -> list[GuidedResult]:
    """Free vs guided fine-tunes for ``visitors`` held-out visitors (see module doc)."""
    if visitors < 1 or capture_s <= 0 or budget <= 0:
        raise click.BadParameter("--visitors, --capture and --budget must be positive")
    q = CaptureQaSettings()
    names = sorted(ROUTINES)
    mark = min(MARK_S, budget)
    guided_api = ApiSettings(capture_mode="guided")
    click.echo(
        f"guided vs free capture: {visitors} held-out visitors, free clips {capture_s:g} s, "
        f"guided clips the dance's length (at most {guided_api.guided_max_s:g} s), at "
        f"{fps:.0f} fps, {budget:.0f} s fine-tune each from {booth}; metric = transfer "
        f"dancer-region SSIM at {mark:.0f} s, the visitor performing the reference dance"
    )
    click.echo(describe_machine())
    results = []
    for i in range(visitors):
        seed = VISITOR_SEED_BASE + i
        dance = names[i % len(names)]
        visitor = make_visitor(seed, capture_s)
        length = load_reference(dance).duration_s
        with tempfile.TemporaryDirectory(prefix="dancebooth-guided-") as tmp_name:
            tmp = Path(tmp_name)
            free = _shard(visitor, f"v{i}-free", tmp, fps, capture_s)
            guided_s = guided_api.capture_length(length)
            along = _performing(visitor, dance, along=True, capture_s=guided_s)
            guided = _shard(along, f"v{i}-guided", tmp, fps, guided_s)
            exact = _performing(visitor, dance, along=False, capture_s=length)
            truth = _shard(exact, f"v{i}-truth", tmp, TRUTH_FPS, length)
            cov_free, cov_guided = coverage(free, dance, q), coverage(guided, dance, q)
            click.echo(
                f"visitor-{i:04d} ({dance}, {length:.1f} s): free clip {capture_s:g} s, "
                f"guided clip {guided_s:g} s"
            )
            click.echo(f"visitor-{i:04d} free: {load_average()}")
            free_fit = _fit(free, truth, booth, budget, opts, cfg, scored_at, tmp / "free")
            click.echo(f"visitor-{i:04d} guided: {load_average()}")
            guided_fit = _fit(guided, truth, booth, budget, opts, cfg, scored_at, tmp / "guided")
            result = GuidedResult(
                f"visitor-{i:04d}",
                dance,
                free_fit[0],
                guided_fit[0],
                cov_free,
                cov_guided,
                free_fit[1],
                guided_fit[1],
            )
            if ceiling:
                perfect = _shard(exact, f"v{i}-perfect", tmp, fps, guided_s)
                click.echo(f"visitor-{i:04d} perfect imitation: {load_average()}")
                ssim, steps = _fit(perfect, truth, booth, budget, opts, cfg, scored_at, tmp / "p")
                cov = coverage(perfect, dance, q)
                result = replace(
                    result, ceiling_ssim=ssim, ceiling_steps=steps, ceiling_coverage=cov
                )
        results.append(result)
        click.echo(
            f"{result.visitor} ({dance}): free SSIM {result.free_ssim:.3f} (coverage "
            f"{_pct(cov_free)}, {result.free_steps} steps), guided SSIM "
            f"{result.guided_ssim:.3f} (coverage {_pct(cov_guided)}, {result.guided_steps} steps)"
            + _ceiling(result)
        )
    _report(results, mark)
    click.echo(describe_machine())
    if plot is not None:
        click.echo(f"plot: {plot_coverage(results, plot, mark)}")
    return results


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _ceiling(r: GuidedResult) -> str:
    if r.ceiling_ssim is None:
        return ""
    return (
        f", perfect imitation SSIM {r.ceiling_ssim:.3f} (coverage "
        f"{_pct(r.ceiling_coverage)}, {r.ceiling_steps} steps)"
    )


def _report(results: list[GuidedResult], mark: float) -> None:
    head = (
        "| visitor | dance | coverage free | SSIM free (steps) | coverage guided "
        "| SSIM guided (steps) |"
    )
    click.echo("\n" + head)
    click.echo("|---" * 6 + "|")
    for r in results:
        row = (
            f"| {r.visitor} | {r.dance} | {_pct(r.free_coverage)} | {r.free_ssim:.3f} "
            f"({r.free_steps}) | {_pct(r.guided_coverage)} | {r.guided_ssim:.3f} "
            f"({r.guided_steps}) |"
        )
        click.echo(row)
    guided = float(np.median([r.guided_ssim for r in results]))
    free = float(np.median([r.free_ssim for r in results]))
    click.echo(f"free-dance transfer dancer SSIM at {mark:.0f} s: {free:.3f}")
    click.echo(f"guided transfer dancer SSIM at {mark:.0f} s: {guided:.3f}")
    tops = [r.ceiling_ssim for r in results if r.ceiling_ssim is not None]
    if tops:
        click.echo(
            f"perfect-imitation (ceiling) transfer dancer SSIM at {mark:.0f} s: "
            f"{float(np.median(tops)):.3f}"
        )


def plot_coverage(results: list[GuidedResult], path: Path, mark: float) -> Path:
    """Transfer SSIM against capture QA coverage, free and guided clips."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    top = [r for r in results if r.ceiling_ssim is not None]
    for label, cov, ssim, style in (
        ("free dance", [r.free_coverage for r in results], [r.free_ssim for r in results], "o"),
        ("guided", [r.guided_coverage for r in results], [r.guided_ssim for r in results], "s"),
        (
            "perfect imitation (ceiling)",
            [r.ceiling_coverage for r in top],
            [r.ceiling_ssim for r in top],
            "*",
        ),
    ):
        if ssim:
            ax.plot([c or 0.0 for c in cov], [v or 0.0 for v in ssim], style, label=label)
    ax.axvline(CaptureQaSettings().min_coverage, color="grey", ls="--", label="QA threshold")
    ax.set_xlabel("capture QA coverage of the reference")
    ax.set_ylabel(f"transfer dancer SSIM at {mark:.0f} s")
    ax.legend()
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
