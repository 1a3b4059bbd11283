"""``dancebooth bench train``: training throughput and time-to-quality, with figures.

* throughput — images/s of the Lightning fine-tune loop next to a plain-PyTorch loop
  on the same device (:mod:`benchmarks.train_throughput`; ``--device cuda`` for a GPU).
* quality — per held-out visitor, a warm start from the booth checkpoint and a run
  from scratch under the same wall-clock budget; held-out SSIM against time, how soon
  the warm start reaches the quality scratch ends with, and how far ahead of scratch it
  is on the transfer set (the visitor in a dance their clip never showed) at every
  evaluation. Frames are scored as rendered (a dancer-only model composited over the
  booth) at ``--score-resolution`` px, whatever the model's resolution.
* capacity — width x resolution x augmentation x mask-weighted loss at equal wall-clock
  (:mod:`benchmarks.train_capacity`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import click
import numpy as np
import torch

from benchmarks.train_throughput import run_flops, run_throughput
from cloud.training.base import DEFAULT_BOOTH_CHECKPOINT
from cloud.training.checkpoint import load_checkpoint
from cloud.training.config import Pix2PixConfig, Recipe
from cloud.training.corpus import CorpusSession, corpus_sessions
from cloud.training.data import FrameSet, build_frameset, clip_crop, holdout_indices, split
from cloud.training.device import resolve_device
from cloud.training.errors import TrainingError
from cloud.training.finetune import FinetuneResult, finetune
from cloud.training.grid import sample_grid, save_png
from cloud.training.loop import RunOptions, TrainingRun
from cloud.training.model import Pix2Pix
from common.machine import describe_machine

logger = logging.getLogger(__name__)


def visitor_sessions(corpus: Path, count: int) -> list[CorpusSession]:
    visitors = [s for s in corpus_sessions(corpus, "visitor") if s.role == "visitor"]
    if not visitors:
        visitors = corpus_sessions(corpus)
    return visitors[:count]


def reached(history: list[dict[str, float]], key: str, target: float) -> dict[str, float] | None:
    """The first evaluation at which ``key`` reached ``target`` (None if none did)."""
    return next((h for h in history if h[key] >= target), None)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min)"


def _fit_pair(
    session: CorpusSession,
    booth: Path,
    cfg: Pix2PixConfig,
    budget: float,
    opts: RunOptions,
    tmp: Path,
    also_score: dict[str, FrameSet],
) -> tuple[FinetuneResult, FinetuneResult]:
    """The warm start and the run from scratch (``cfg``: the booth's network, the
    fine-tune's recipe), one after the other, each with the machine's load printed."""
    click.echo(f"{session.session} warm start: {load_average()}")
    warm = finetune(
        session.shards,
        booth,
        budget,
        10**9,
        work_dir=tmp / "warm",
        options=opts,
        also_score=also_score,
        dancer_only=cfg.dancer_only,
    )
    click.echo(f"{session.session} scratch: {load_average()}")
    scratch = finetune(
        session.shards,
        None,
        budget,
        10**9,
        work_dir=tmp / "scratch",
        options=opts,
        config=cfg,
        also_score=also_score,
    )
    return warm, scratch


def transfer_frames(corpus: Path, session: CorpusSession, resolution: int) -> FrameSet | None:
    """The visitor of ``session`` dancing a routine of their own clip never showed (the
    corpus's ``<session>-transfer``), framed as their clip is, at most 32 frames spread
    over it, at ``resolution`` px; None when the corpus has none."""
    found = [
        s for s in corpus_sessions(corpus, "transfer") if s.session == f"{session.session}-transfer"
    ]
    if not found:
        return None
    data = build_frameset(found[0].shards, resolution, crop=clip_crop(session.shards))
    return data.subset(holdout_indices(len(data), maximum=32))


def _ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return "0 (at start)" if r <= 0 else f"1/{1 / r:.1f}"


Ratios = tuple[float | None, float | None]  # (wall-clock, steps)


def _quality_row(
    name: str, warm: FinetuneResult, scratch: FinetuneResult, prefix: str = ""
) -> tuple[str, Ratios]:
    """One visitor's row for the metric ``<prefix>region_ssim`` (full frame in brackets)."""
    key, full = f"{prefix}region_ssim", f"{prefix}ssim"
    wh, sh = warm.run.history, scratch.run.history
    target = sh[-1][key]
    hit = reached(wh, key, target)
    # Steps are the load-independent clock: on a shared machine the two runs of a pair
    # may see very different loads, so wall-clock alone can mislead either way.
    ratios: Ratios = (None, None)
    if hit is not None:
        ratios = (hit["elapsed_s"] / sh[-1]["elapsed_s"], hit["step"] / max(1.0, sh[-1]["step"]))
    when = "never" if hit is None else f"{hit['elapsed_s']:.0f} s, step {hit['step']:.0f}"
    row = (
        f"| {name} | {wh[0][key]:.3f} | {wh[-1][key]:.3f} ({wh[-1][full]:.3f}) | "
        f"{target:.3f} ({sh[-1][full]:.3f}) | {when} | {_ratio(ratios[0])} | "
        f"{_ratio(ratios[1])} | {wh[-1]['step']:.0f} / {sh[-1]['step']:.0f} |"
    )
    return row, ratios


def _summary(ratios: list[Ratios]) -> str:
    hits = [r for r in ratios if r[0] is not None and r[1] is not None]
    text = f"warm start reached scratch's final quality for {len(hits)}/{len(ratios)} visitors"
    if hits:
        wall = float(np.median([r[0] for r in hits if r[0] is not None]))
        steps = float(np.median([r[1] for r in hits if r[1] is not None]))
        text += f"; median ratio {_ratio(wall)} of the wall time, {_ratio(steps)} of the steps"
    return text + " (goal ≤ 1/8)"


def _warm_up_process(cfg: Pix2PixConfig, session: CorpusSession, device: str) -> None:
    """Pay the process's one-time costs (lazy imports, oneDNN kernel set-up) before the
    timed runs, so they do not land on whichever run goes first."""
    data = build_frameset(session.shards[:1], cfg.resolution)
    with tempfile.TemporaryDirectory() as tmp:
        opts = RunOptions(1e9, 1, eval_every_s=1e9, device=device)
        TrainingRun(Pix2Pix.from_config(cfg), data, data.subset([0]), Path(tmp), opts).fit()


def lead(warm: list[dict[str, float]], scratch: list[dict[str, float]], key: str) -> list[float]:
    """Warm minus scratch on ``key`` at each of the warm start's evaluations, scratch's
    curve interpolated at the same wall-clock (its value before its first evaluation is
    its first)."""
    xs = [h["elapsed_s"] for h in scratch]
    ys = [h[key] for h in scratch]
    return [h[key] - float(np.interp(h["elapsed_s"], xs, ys)) for h in warm]


def at_time(history: list[dict[str, float]], key: str, t: float) -> float:
    """``key`` interpolated at ``t`` seconds of the run."""
    return float(np.interp(t, [h["elapsed_s"] for h in history], [h[key] for h in history]))


def run_quality(
    corpus: Path,
    booth: Path,
    visitors: int,
    budget: float,
    batch_size: int,
    device: str,
    grid: Path,
    plot: Path | None,
    score_resolution: int = 256,
    dancer_only: bool | None = None,
    evals: int = 30,
) -> None:
    booth_cfg = load_checkpoint(booth).config
    recipe = Recipe()
    cfg = booth_cfg.with_recipe(recipe)
    if dancer_only is not None:
        cfg = cfg.model_copy(update={"dancer_only": dancer_only})
    key = "region_ssim"
    scored_at = max(score_resolution, cfg.resolution)
    opts = RunOptions(
        budget,
        10**9,
        batch_size=batch_size,
        eval_every_s=budget / evals,  # 30: fine enough to resolve a ratio of 1/8
        patience=0,  # never stop early: the curves run the whole budget
        eval_at_start=True,
        device=device,
    )
    click.echo(
        f"time-to-quality: {visitors} held-out visitors, {budget:.0f} s budget each, "
        f"{cfg.resolution} px ngf {cfg.ngf}, "
        f"{'dancer-only (composited over the booth)' if cfg.dancer_only else 'full-frame'}, "
        f"batch {batch_size}, recipe {recipe.model_dump_json()} for both starts; metric = "
        f"held-out dancer-region SSIM of the rendered frame (full-frame SSIM in brackets); "
        f"transfer frames scored at {scored_at} px; booth checkpoint {booth}"
    )
    click.echo(describe_machine())
    pictures, pairs = [], []
    sessions = visitor_sessions(corpus, visitors)
    _warm_up_process(cfg, sessions[0], device)
    for session in sessions:
        transfer = transfer_frames(corpus, session, scored_at)
        also = {"transfer": transfer} if transfer is not None else {}
        with tempfile.TemporaryDirectory() as tmp:
            warm, scratch = _fit_pair(session, booth, cfg, budget, opts, Path(tmp), also)
            best = load_checkpoint(warm.checkpoint).build_model()
        _, held = split(build_frameset(session.shards, cfg.resolution))
        pictures.append(sample_grid(best, held, rows=2))
        pairs.append((session.session, warm, scratch, transfer is not None))
        click.echo(f"{session.session}: warm {warm.run.steps} steps, scratch {scratch.run.steps}")
    tables = [("held-out frames of the visitor's own clip", "")]
    if all(p[3] for p in pairs):
        tables.append(("the visitor in a dance their clip never showed (as rendered)", "transfer_"))
    for title, prefix in tables:
        click.echo(f"\n{title}: dancer-region SSIM (full frame in brackets)")
        click.echo(
            "| visitor | warm @0 s | warm @budget | scratch @budget | "
            "warm reaches scratch's final at | wall ratio | step ratio | steps warm / scratch |"
        )
        click.echo("|---|---|---|---|---|---|---|---|")
        ratios: list[Ratios] = []
        for name, warm, scratch, _ in pairs:
            row, ratio = _quality_row(name, warm, scratch, prefix)
            ratios.append(ratio)
            click.echo(row)
        click.echo(_summary(ratios))
        at_budget = [warm.run.history[-1][f"{prefix}{key}"] for _, warm, _, _ in pairs]
        click.echo(
            f"warm start after {budget:.0f} s: dancer-region SSIM "
            f"{', '.join(f'{v:.3f}' for v in at_budget)} (mean {np.mean(at_budget):.3f})"
        )
    if len(tables) > 1:
        _transfer_summary(pairs, budget)
    click.echo(describe_machine())
    gap = np.full((4, pictures[0].shape[1], 3), 255, np.uint8)
    sheet = np.concatenate([x for p in pictures for x in (p, gap)][:-1], axis=0)
    click.echo(f"grid (pose | rendered | truth): {save_png(grid, sheet)}")
    if plot is not None:
        keys = [f"{prefix}{key}" for _, prefix in tables]
        curves = [(name, warm.run.history, scratch.run.history) for name, warm, scratch, _ in pairs]
        click.echo(f"plot: {plot_curves(curves, keys, plot)}")


def _transfer_summary(
    pairs: list[tuple[str, FinetuneResult, FinetuneResult, bool]], budget: float
) -> None:
    """The issue's figures: the transfer set's median after the budget, and the warm
    start's lead over scratch at every evaluation and at 60 s."""
    key = "transfer_region_ssim"
    finals = [warm.run.history[-1][key] for _, warm, _, _ in pairs]
    click.echo(f"\ntransfer dancer SSIM at budget: {float(np.median(finals)):.3f}")
    click.echo(
        f"(median over {len(finals)} visitors after {budget:.0f} s: "
        f"{', '.join(f'{v:.3f}' for v in finals)}; goal >= 0.85)"
    )
    for name, warm, scratch, _ in pairs:
        leads = lead(warm.run.history, scratch.run.history, key)
        at60 = at_time(warm.run.history, key, 60.0) - at_time(scratch.run.history, key, 60.0)
        click.echo(
            f"{name}: warm - scratch on transfer: smallest lead {min(leads):+.3f} over "
            f"{len(leads)} evaluations (ahead at {sum(v > 0 for v in leads)}), "
            f"at 60 s {at60:+.3f} (goal: ahead at every evaluation, >= +0.05 at 60 s)"
        )


def plot_curves(
    curves: list[tuple[str, list[dict[str, float]], list[dict[str, float]]]],
    keys: list[str],
    path: Path,
) -> Path:
    """Held-out ``keys`` against wall-clock, one panel per key, warm solid, scratch dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for i, (name, warm, scratch) in enumerate(curves):
            c = f"C{i}"
            ax.plot([h["elapsed_s"] for h in warm], [h[key] for h in warm], c, label=f"{name} warm")
            ax.plot(
                [h["elapsed_s"] for h in scratch],
                [h[key] for h in scratch],
                c + "--",
                label=f"{name} scratch",
            )
        ax.set_xlabel("wall-clock seconds (2-core CPU)")
        ax.set_ylabel(key.replace("_", " "))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _guided(
    booth: Path,
    visitors: int,
    budget: float,
    batch_size: int,
    device: str,
    capture: float,
    score_resolution: str,
    evals: int,
    dancer_only: bool | None,
    plot: Path,
    ceiling: bool = False,
) -> None:
    from benchmarks.train_guided import run_guided

    cfg = load_checkpoint(booth).config.with_recipe(Recipe())
    if dancer_only is not None:
        cfg = cfg.model_copy(update={"dancer_only": dancer_only})
    opts = RunOptions(
        budget,
        10**9,
        batch_size=batch_size,
        eval_every_s=budget / evals,
        patience=0,
        eval_at_start=True,
        device=device,
    )
    scored_at = max(int(score_resolution), cfg.resolution)
    try:
        run_guided(
            booth,
            cfg,
            visitors,
            budget,
            opts,
            capture,
            scored_at,
            plot,
            ceiling=ceiling,
        )
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from exc


def _capacity(
    corpus: Path,
    visitors: int,
    variants: str,
    marks: str,
    score_resolution: int,
    batch_size: int,
    device: str,
) -> None:
    from benchmarks.train_capacity import parse_variants, run_capacity

    chosen = parse_variants(variants)
    at = [float(m) for m in marks.split(",")]
    scored_at = max(score_resolution, *(v.resolution for v in chosen))
    click.echo(
        f"capacity at equal wall-clock: {len(chosen)} variants x {visitors} visitors, from "
        f"scratch, {max(at):.0f} s each, batch {batch_size}; metric = transfer dancer-region "
        f"SSIM of the rendered frame at {scored_at} px"
    )
    click.echo(describe_machine())
    sessions = []
    for session in visitor_sessions(corpus, visitors):
        transfer = transfer_frames(corpus, session, scored_at)
        if transfer is None:
            raise click.ClickException(f"{corpus} has no transfer session for {session.session}")
        sessions.append((session, transfer))
    _warm_up_process(chosen[0].config(), sessions[0][0], device)
    run_capacity(sessions, chosen, max(at), batch_size, device, at, load_average)
    click.echo(describe_machine())


@click.command("train")
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Synthetic corpus (dancebooth synth corpus ...); every part but flops needs one.",
)
@click.option(
    "--part",
    type=click.Choice(["all", "throughput", "quality", "flops", "capacity"]),
    default="all",
    help="flops: count a step's FLOPs at --resolutions for ngf 16 and 64 (no corpus read); "
    "capacity: --variants from scratch at equal wall-clock (not in 'all').",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="cpu, cuda or cuda:N",
)
@click.option("--resolutions", default=None, help="[default: 128,256 on CPU, 256,512 on a GPU]")
@click.option("--steps", type=int, default=6, show_default=True, help="Timed throughput steps.")
@click.option("--rounds", type=int, default=2, show_default=True, help="Throughput repetitions.")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--ngf", type=int, default=16, show_default=True, help="Throughput model width.")
@click.option(
    "--booth", type=click.Path(path_type=Path), default=DEFAULT_BOOTH_CHECKPOINT, show_default=True
)
@click.option("--visitors", type=int, default=3, show_default=True)
@click.option(
    "--budget",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds per visitor per run (warm and scratch each).",
)
@click.option(
    "--score-resolution",
    type=click.Choice(["128", "256", "512"]),
    default="256",
    show_default=True,
    help="Transfer frames are scored at this many px (or the model's, if larger).",
)
@click.option(
    "--dancer-only/--full-frame",
    default=None,
    help="What the fine-tunes draw [default: what the booth checkpoint draws].",
)
@click.option(
    "--variants",
    default="16x128,32x128,64x128,16x256,32x256,64x256",
    show_default=True,
    help="capacity: width x resolution, +aug / -mask (augmentation off and the "
    "mask-weighted loss on unless said).",
)
@click.option(
    "--evals",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="quality: evaluations per run (their time counts against the budget: at 256 px "
    "on a loaded machine fewer leave more of it to training).",
)
@click.option(
    "--guided",
    is_flag=True,
    help="quality: free-dance vs guided (dance-along) clips of each visitor, scored on the "
    "visitor performing the reference; renders its own clips (no --corpus).",
)
@click.option(
    "--capture",
    type=click.FloatRange(min=1.0),
    default=15.0,
    show_default=True,
    help="--guided: seconds the free-dance clip lasts (the booth's api.capture_s); the "
    "guided clip lasts the dance, as the booth's guided capture does.",
)
@click.option(
    "--ceiling",
    is_flag=True,
    help="--guided: also fine-tune on the visitor performing the reference perfectly (the "
    "scored poses themselves): the most any capture could give in the budget.",
)
@click.option(
    "--marks",
    default="60,120",
    show_default=True,
    help="capacity: report the transfer score at these seconds (the budget is the last).",
)
@click.option(
    "--grid",
    type=click.Path(path_type=Path),
    default=Path("var/bench/train-grid.png"),
    show_default=True,
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
    default=Path("var/bench/train-curves.png"),
    show_default=True,
)
def bench_train(
    corpus: Path | None,
    part: str,
    device: str,
    resolutions: str | None,
    steps: int,
    rounds: int,
    batch_size: int,
    ngf: int,
    booth: Path,
    visitors: int,
    budget: float,
    score_resolution: str,
    dancer_only: bool | None,
    variants: str,
    evals: int,
    guided: bool,
    capture: float,
    ceiling: bool,
    marks: str,
    grid: Path,
    plot: Path,
) -> None:
    """Training throughput (Lightning vs plain PyTorch) and warm-vs-scratch time-to-quality."""
    logging.getLogger("cloud.training").setLevel(logging.WARNING)
    click.echo(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if part == "flops":
        run_flops([int(r) for r in (resolutions or "128,256,512").split(",")], [16, 64], batch_size)
        return
    if guided:
        if part != "quality":
            raise click.UsageError("--guided goes with --part quality")
        _guided(
            booth,
            visitors,
            budget,
            batch_size,
            device,
            capture,
            score_resolution,
            evals,
            dancer_only,
            plot.with_name("train-guided-coverage.png"),
            ceiling,
        )
        return
    if corpus is None:
        raise click.UsageError("--corpus is required (dancebooth synth corpus ...)")
    try:
        if part in ("all", "throughput"):
            where = resolve_device(device)
            default = "128,256" if where.type == "cpu" else "256,512"
            res = [int(r) for r in (resolutions or default).split(",")]
            session = visitor_sessions(corpus, 1)[0]
            run_throughput(session, res, batch_size, steps, ngf, rounds, where)
        if part in ("all", "quality"):
            run_quality(
                corpus,
                booth,
                visitors,
                budget,
                batch_size,
                device,
                grid,
                plot,
                int(score_resolution),
                dancer_only,
                evals,
            )
        if part == "capacity":
            _capacity(corpus, visitors, variants, marks, int(score_resolution), batch_size, device)
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from exc
