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
from cloud.training.data import FrameSet, ShardSource, build_frameset, split
from cloud.training.errors import TrainingError
from cloud.training.loop import ProgressFn, RunOptions, RunResult, TrainingRun
from cloud.training.model import Pix2Pix, Pix2PixConfig

logger = logging.getLogger(__name__)

# A fine-tune's learning rate, 5x pix2pix's 2e-4: starting from the booth checkpoint (or
# from scratch) the held-out dancer SSIM after 60 s on a visitor was 0.86 at 1e-3 against
# 0.82 at 2e-4, and 2e-3 gained nothing more (docs/time-to-quality.md).
FINETUNE_LR = 1e-3

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
    work_dir: Path, booth_checkpoint: Path | None, config: Pix2PixConfig | None
) -> tuple[Pix2Pix, Checkpoint | None]:
    last = work_dir / "last.safetensors"
    if last.exists():
        ckpt = load_checkpoint(last)
        return ckpt.build_model(), ckpt
    if booth_checkpoint is not None:
        model = load_checkpoint(booth_checkpoint).build_model()
        model.steps_done = 0  # steps count from the start of this fine-tune
        return model, None
    if config is None:
        raise TrainingError("give a booth checkpoint, or a config to train from scratch")
    return Pix2Pix.from_config(config), None


def finetune(
    session_shards: Iterable[ShardSource] | ShardLister,
    booth_checkpoint: Path | None,
    budget_s: float,
    max_steps: int,
    *,
    work_dir: Path,
    options: RunOptions | None = None,
    config: Pix2PixConfig | None = None,
    holdout: float = 0.1,
    progress_callback: ProgressFn | None = None,
    also_score: Mapping[str, FrameSet] | None = None,
    resolution: int | None = None,
) -> FinetuneResult:
    """Fine-tune on a session's shards (sources, or a function listing them).

    Stops at ``budget_s`` seconds of wall clock (decoding included, summed over
    resumed runs), at ``max_steps`` steps, or when the held-out dancer-region SSIM
    stops improving. ``booth_checkpoint=None`` with a ``config`` trains from scratch
    (the benchmark's baseline). ``resolution``, when given, must be the model's.
    """
    started = time.perf_counter()
    work_dir.mkdir(parents=True, exist_ok=True)
    opts = options or RunOptions(budget_s=budget_s, max_steps=max_steps)
    opts = RunOptions(
        **{
            **opts.__dict__,
            "budget_s": budget_s,
            "max_steps": max_steps,
            "lr": FINETUNE_LR if opts.lr is None else opts.lr,
        }
    )
    model, resume = _start_model(work_dir, booth_checkpoint, config)
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
