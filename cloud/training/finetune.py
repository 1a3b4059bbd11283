"""Per-visitor fine-tune: the booth checkpoint adapted to one session under a time budget.

:func:`finetune` is what the job worker calls; ``dancebooth model finetune`` wraps it
with a progress bar. A run writes ``last.safetensors`` (resumable) and
``best.safetensors`` (the weights to render with) into its work directory; calling
it again on the same directory resumes with the remaining budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cloud.training.checkpoint import Checkpoint, load_checkpoint
from cloud.training.config import Pix2PixConfig, Recipe
from cloud.training.data import FrameSet, ShardSource, build_frameset, split
from cloud.training.errors import TrainingError
from cloud.training.loop import ProgressFn, RunOptions, RunResult, TrainingRun
from cloud.training.model import Pix2Pix

logger = logging.getLogger(__name__)

ShardLister = Callable[[], Iterable[ShardSource]]


@dataclass
class FinetuneResult:
    run: RunResult
    frames_train: int
    frames_held_out: int
    decode_s: float
    warm_start: bool
    # What the model draws: the person only (RGB + alpha, composited over the plate), or
    # the whole frame (full-frame model, or a session without person masks).
    dancer_only: bool = False
    frames_without_mask: int = 0  # trained (and scored) full-frame
    mask_fallback: bool = False  # a dancer-only start fell back to full frame: no masks

    @property
    def checkpoint(self) -> Path:
        return self.run.best

    def report(self) -> dict[str, object]:
        """What the run's report (the job's metrics.json) says about the generation."""
        return {
            "generation": "dancer-only" if self.dancer_only else "full-frame",
            "frames_without_mask": self.frames_without_mask,
            "full_frame_fallback": self.mask_fallback,
        }


def check_resolution(config: Pix2PixConfig, resolution: int, source: Path) -> None:
    if config.resolution != resolution:
        raise TrainingError(
            f"{source} is a {config.resolution} px model but training.resolution is "
            f"{resolution}: point training.booth_checkpoint at a {resolution} px booth "
            f"checkpoint ('dancebooth model train-base --resolution {resolution}') or set "
            f"training.resolution to {config.resolution}"
        )


def _start(
    work_dir: Path,
    booth_checkpoint: Path | None,
    config: Pix2PixConfig | None,
    recipe: Recipe | None,
    dancer_only: bool | None,
) -> tuple[Pix2PixConfig, Checkpoint | None, Checkpoint | None]:
    """``(config, resume, booth)``: the run's own last checkpoint (its config, recipe and
    all), or the booth checkpoint's network with this fine-tune's recipe (and
    ``dancer_only`` if given), or ``config`` from scratch (with ``recipe`` in place of
    its own, if given)."""
    last = work_dir / "last.safetensors"
    if last.exists():
        ckpt = load_checkpoint(last)
        return ckpt.config, ckpt, None
    if booth_checkpoint is not None:
        booth = load_checkpoint(booth_checkpoint)
        cfg = booth.config.with_recipe(recipe or Recipe())
    elif config is None:
        raise TrainingError("give a booth checkpoint, or a config to train from scratch")
    else:
        booth, cfg = None, config if recipe is None else config.with_recipe(recipe)
    if dancer_only is not None:
        cfg = cfg.model_copy(update={"dancer_only": dancer_only})
    return cfg, None, booth


def _build(cfg: Pix2PixConfig, resume: Checkpoint | None, booth: Checkpoint | None) -> Pix2Pix:
    model = Pix2Pix.from_config(cfg)
    start = resume or booth
    if start is not None:
        start.load_into(model)  # fits a full-frame booth to a dancer-only model and back
    if resume is None:
        model.steps_done = 0  # steps count from the start of this fine-tune
    return model


def finetune(
    session_shards: Iterable[ShardSource] | ShardLister,
    booth_checkpoint: Path | None,
    budget_s: float,
    max_steps: int,
    *,
    work_dir: Path,
    options: RunOptions | None = None,
    recipe: Recipe | None = None,
    config: Pix2PixConfig | None = None,
    holdout: float = 0.1,
    progress_callback: ProgressFn | None = None,
    also_score: Mapping[str, FrameSet] | None = None,
    resolution: int | None = None,
    dancer_only: bool | None = None,
) -> FinetuneResult:
    """Fine-tune on a session's shards (sources, or a function listing them).

    Stops at ``budget_s`` seconds of wall clock (decoding included, summed over
    resumed runs), at ``max_steps`` steps, or when the held-out dancer-region SSIM
    stops improving. How it trains is ``recipe`` (default: :class:`Recipe`'s, the
    measured fine-tune settings), saved in its checkpoints; a resumed run keeps the
    recipe it started with. ``booth_checkpoint=None`` with a ``config`` trains from
    scratch (the benchmark's baseline). ``resolution``, when given, must be the model's.

    A dancer-only model (the booth's, or ``dancer_only=True``) on a session with no
    person mask at all (old nodes) falls back to a full-frame model, and the result says
    so; frames without a mask in a session with masks train full-frame, counted.
    """
    started = time.perf_counter()
    work_dir.mkdir(parents=True, exist_ok=True)
    opts = options or RunOptions(budget_s=budget_s, max_steps=max_steps)
    opts = RunOptions(**{**opts.__dict__, "budget_s": budget_s, "max_steps": max_steps})
    cfg, resume, booth = _start(work_dir, booth_checkpoint, config, recipe, dancer_only)
    if resolution is not None:
        check_resolution(cfg, resolution, booth_checkpoint or work_dir)
    sources = session_shards() if callable(session_shards) else session_shards
    data = build_frameset(sources, cfg.resolution)
    unmasked = int((~data.has_mask).sum())
    fallback = cfg.dancer_only and unmasked == len(data) and resume is None
    if fallback:
        logger.warning(
            "no person masks in this session (a node without segmentation?): "
            "full-frame generation instead of the dancer over the plate"
        )
        cfg = cfg.model_copy(update={"dancer_only": False})
    elif cfg.dancer_only and unmasked:
        logger.info("%d of %d frames have no person mask: trained full-frame", unmasked, len(data))
    model = _build(cfg, resume, booth)
    train, held = split(data, holdout)
    decode_s = time.perf_counter() - started
    logger.info(
        "fine-tune: %d train / %d held-out frames decoded in %.1f s%s",
        len(train),
        len(held),
        decode_s,
        f", resuming at step {model.steps_done}" if resume else "",
    )
    run = TrainingRun(
        model,
        train,
        held,
        work_dir,
        opts,
        resume=resume,
        progress=progress_callback,
        started=started,
        also_score=also_score,
    )
    result = run.fit()
    return FinetuneResult(
        result,
        len(train),
        len(held),
        decode_s,
        booth_checkpoint is not None,
        cfg.dancer_only,
        unmasked,
        fallback,
    )
