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

    @property
    def checkpoint(self) -> Path:
        return self.run.best


def check_resolution(config: Pix2PixConfig, resolution: int, source: Path) -> None:
    if config.resolution != resolution:
        raise TrainingError(
            f"{source} is a {config.resolution} px model but training.resolution is "
            f"{resolution}: point training.booth_checkpoint at a {resolution} px booth "
            f"checkpoint ('dancebooth model train-base --resolution {resolution}') or set "
            f"training.resolution to {config.resolution}"
        )


def _start_model(
    work_dir: Path,
    booth_checkpoint: Path | None,
    config: Pix2PixConfig | None,
    recipe: Recipe | None,
) -> tuple[Pix2Pix, Checkpoint | None]:
    """The model to train: the run's own last checkpoint (its config, recipe and all), or
    the booth checkpoint's network with this fine-tune's recipe, or ``config`` from
    scratch (with ``recipe`` in place of its own, if given)."""
    last = work_dir / "last.safetensors"
    if last.exists():
        ckpt = load_checkpoint(last)
        return ckpt.build_model(), ckpt
    if booth_checkpoint is not None:
        booth = load_checkpoint(booth_checkpoint)
        model = Pix2Pix.from_config(booth.config.with_recipe(recipe or Recipe()))
        booth.load_into(model)
        model.steps_done = 0  # steps count from the start of this fine-tune
        return model, None
    if config is None:
        raise TrainingError("give a booth checkpoint, or a config to train from scratch")
    return Pix2Pix.from_config(config if recipe is None else config.with_recipe(recipe)), None


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
) -> FinetuneResult:
    """Fine-tune on a session's shards (sources, or a function listing them).

    Stops at ``budget_s`` seconds of wall clock (decoding included, summed over
    resumed runs), at ``max_steps`` steps, or when the held-out dancer-region SSIM
    stops improving. How it trains is ``recipe`` (default: :class:`Recipe`'s, the
    measured fine-tune settings), saved in its checkpoints; a resumed run keeps the
    recipe it started with. ``booth_checkpoint=None`` with a ``config`` trains from
    scratch (the benchmark's baseline). ``resolution``, when given, must be the model's.
    """
    started = time.perf_counter()
    work_dir.mkdir(parents=True, exist_ok=True)
    opts = options or RunOptions(budget_s=budget_s, max_steps=max_steps)
    opts = RunOptions(**{**opts.__dict__, "budget_s": budget_s, "max_steps": max_steps})
    model, resume = _start_model(work_dir, booth_checkpoint, config, recipe)
    if resolution is not None:
        check_resolution(model.config, resolution, booth_checkpoint or work_dir)
    sources = session_shards() if callable(session_shards) else session_shards
    data = build_frameset(sources, model.config.resolution)
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
    return FinetuneResult(result, len(train), len(held), decode_s, booth_checkpoint is not None)
