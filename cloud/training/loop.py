"""A budgeted, resumable training run: Lightning fits, a callback keeps the clock.

Both the booth checkpoint (``base``) and the per-visitor fine-tune (``finetune``) are
"train this model on these frames until the wall-clock budget, the step cap or a
plateau of the held-out metric, evaluating and checkpointing on the way". The
callback evaluates every ``eval_every_s`` seconds or ``eval_every_steps`` steps,
writes ``last.safetensors`` (with optimiser state, the generator's weight average and
the time already spent, so a killed run resumes with the remaining budget) and
``best.safetensors``. Evaluation and ``best.safetensors`` use the weight average
(:mod:`cloud.training.ema`) when the run keeps one.

On a GPU the loop keeps the GPU busy: the session's frames sit on the device as uint8
and batches are cut there (when they fit), the losses are read to the host once every
``losses_every`` steps (each read waits for the GPU to drain its queue), evaluation
scores on the device and reads its numbers once, and the final evaluation and
checkpoint run in ``on_train_end``, before Lightning's teardown moves the model back to
the CPU. A loss scaler's state (fp16 on GPUs without bf16) is saved with the optimisers
so a resumed run does not start scaling from scratch and skip steps again.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L  # noqa: N812
import torch
from lightning.pytorch.strategies import Strategy
from torch.utils.data import DataLoader

from cloud.training.batches import BatchStream
from cloud.training.checkpoint import Checkpoint, save_checkpoint
from cloud.training.data import FrameSet, place_frames
from cloud.training.device import Precision, resolve_device, resolve_precision
from cloud.training.ema import WeightAverage
from cloud.training.evaluation import ScoringSet, evaluate
from cloud.training.model import Pix2Pix
from cloud.training.trainer import make_trainer

logger = logging.getLogger(__name__)

StopReason = Literal["budget", "max_steps", "plateau"]
MONITOR = "region_ssim"  # the dancer is what the visitor looks at; the backdrop is easy


@dataclass(frozen=True)
class RunOptions:
    budget_s: float
    max_steps: int
    batch_size: int = 4
    eval_every_s: float = 30.0
    eval_every_steps: int = 0  # 0: time-based only
    patience: int = 4  # evaluations without improvement before stopping (0: never)
    min_delta: float = 0.002
    # auto | cpu | cuda | cuda:N (cloud.training.device). CPU unless asked: a caller that
    # wants the GPU says so (the worker's training.device, the CLI's --device).
    device: str = "cpu"
    precision: Precision = "auto"  # bf16 on GPUs that have it, else fp16; fp32 on CPU
    # Read the losses to the host every N steps (progress, logs): on a GPU each read
    # waits for every queued kernel, so reading every step would stall the pipeline.
    losses_every: int = 10
    seed: int = 0
    eval_at_start: bool = False  # score the starting weights too (time-to-quality curves)
    # How the run trains (learning rate and schedule, weight average, losses,
    # augmentation) is the model's config's recipe, saved with every checkpoint.


@dataclass
class Progress:
    """What a progress callback sees after every step."""

    step: int
    max_steps: int
    elapsed_s: float
    budget_s: float
    losses: dict[str, float]
    metrics: dict[str, float] | None  # latest held-out evaluation
    evaluated: bool  # True on the step an evaluation just ran


ProgressFn = Callable[[Progress], None]


@dataclass
class RunResult:
    last: Path
    best: Path
    steps: int
    start_step: int
    elapsed_s: float
    stopped: StopReason
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    data_share: float = 0.0  # fraction of this run's wall time spent making batches


class _Controller(L.Callback):
    def __init__(self, run: TrainingRun) -> None:
        self.run = run

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.run.restore_optimizers(trainer)
        self.run.set_learning_rate(trainer)
        if self.run.average is not None:
            self.run.average.to(pl_module.device)
        if self.run.opts.eval_at_start and not self.run.history:
            self.run.evaluate()  # here, on the training device
        self.run.last_step_t = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Before the strategy's teardown moves the model and optimisers to the CPU.
        self.run.finish(trainer)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.run.after_step(trainer):
            trainer.should_stop = True


class TrainingRun:
    """One run over ``train`` frames, scored on ``held_out``, writing into ``work_dir``."""

    def __init__(
        self,
        model: Pix2Pix,
        train: FrameSet,
        held_out: FrameSet,
        work_dir: Path,
        opts: RunOptions,
        *,
        resume: Checkpoint | None = None,
        progress: ProgressFn | None = None,
        started: float | None = None,
        also_score: Mapping[str, FrameSet] | None = None,
    ) -> None:
        """``started`` (a ``time.perf_counter()``) lets set-up such as decoding count
        against the budget. Every evaluation also scores the frame sets of ``also_score``
        (keys prefixed with their name, e.g. ``transfer_region_ssim``); the held-out set
        alone decides the best checkpoint and the plateau."""
        self.model, self.train, self.held_out, self.opts = model, train, held_out, opts
        # Plates and pose maps of the scored sets, made once (a dancer-only model's output
        # is scored composited over the booth; also_score sets may be at a higher
        # resolution than the model's: cloud.training.evaluation).
        self.scoring = ScoringSet.of(held_out, model)
        self.also_score = {n: ScoringSet.of(f, model) for n, f in (also_score or {}).items()}
        self.last, self.best = work_dir / "last.safetensors", work_dir / "best.safetensors"
        self.progress = progress
        self.resume = resume
        self.device = resolve_device(opts.device)
        self.strategy: Strategy | str = "auto"  # Lightning's, for the device
        self.precision = resolve_precision(opts.precision, self.device)
        state = resume.state if resume else {}
        self.scaler_state: dict[str, Any] = dict(state.get("scaler", {}))
        self.losses: dict[str, float] = {}  # the last losses read to the host
        self.ran = False  # the final evaluation and checkpoint are done
        self.prior_s = float(state.get("elapsed_s", 0.0))
        self.history: list[dict[str, float]] = list(state.get("history", []))
        self.best_score = float(state.get("best", float("-inf")))
        self.stale = int(state.get("stale", 0))
        self.start_step = model.steps_done
        self.clock_start = time.perf_counter() if started is None else started
        self.last_eval_t = self.last_step_t = self.clock_start
        self.step_s = self.eval_s = 0.0
        self.stopped: StopReason = "budget"
        recipe = model.config.recipe
        self.average = (
            WeightAverage(model.generator, recipe.ema, resume.averaged if resume else None)
            if recipe.ema
            else None
        )
        self.stream = BatchStream(
            train,
            opts.batch_size,
            augment=recipe.augment,
            temporal=model.config.temporal,
            seed=opts.seed + self.start_step,
        )

    def elapsed(self) -> float:
        return self.prior_s + time.perf_counter() - self.clock_start

    def restore_optimizers(self, trainer: L.Trainer) -> None:
        if self.scaler_state:
            trainer.precision_plugin.load_state_dict(self.scaler_state)
        if self.resume is None or not self.resume.optimizers:
            return
        for name, opt in zip(("g", "d"), trainer.optimizers, strict=True):
            opt.load_state_dict(self.resume.optimizers[name])
        logger.info("resumed at step %d with %.0f s already spent", self.start_step, self.prior_s)

    def state(self) -> dict[str, Any]:
        state = {
            "elapsed_s": self.elapsed(),
            "history": self.history,
            "best": self.best_score,
            "stale": self.stale,
            "monitor": MONITOR,
        }
        if self.scaler_state:  # the fp16 loss scale and its growth counter
            state["scaler"] = self.scaler_state
        return state

    def checkpoint(self, trainer: L.Trainer | None) -> None:
        # A run that never started (budget already spent) keeps the optimiser state it
        # resumed with, so a later call with a larger budget still resumes exactly.
        optims = self.resume.optimizers if self.resume is not None else {}
        if trainer is not None and trainer.optimizers:
            optims = {
                n: o.state_dict() for n, o in zip(("g", "d"), trainer.optimizers, strict=True)
            }
            self.scaler_state = trainer.precision_plugin.state_dict() or self.scaler_state
        averaged = self.average.shadow if self.average is not None else None
        save_checkpoint(
            self.last, self.model, optimizers=optims, state=self.state(), averaged=averaged
        )

    def kept_weights(self) -> contextlib.AbstractContextManager[None]:
        """The model holds the weights a checkpoint keeps (the average, if any) inside."""
        if self.average is None:
            return contextlib.nullcontext()
        return self.average.applied(self.model.generator)

    def evaluate(self) -> dict[str, float]:
        t0 = time.perf_counter()
        with self.kept_weights():
            scores = evaluate(self.model, self.scoring)
            for name, frames in self.also_score.items():
                scores.update({f"{name}_{k}": v for k, v in evaluate(self.model, frames).items()})
            self.eval_s = time.perf_counter() - t0
            scores.update(step=float(self.model.steps_done), elapsed_s=self.elapsed())
            self.history.append(scores)
            if scores[MONITOR] > self.best_score + self.opts.min_delta or not self.best.exists():
                self.best_score = max(self.best_score, scores[MONITOR])
                self.stale = 0
                save_checkpoint(self.best, self.model, state=self.state())
            else:
                self.stale += 1
        self.last_eval_t = time.perf_counter()
        losses = self.read_losses()
        logger.info(
            "step %d: %s; losses %s",
            self.model.steps_done,
            ", ".join(f"{k}={v:.4f}" for k, v in scores.items()),
            ", ".join(f"{k}={v:.4f}" for k, v in losses.items()) or "-",
        )
        return scores

    def read_losses(self) -> dict[str, float]:
        """The named losses of the last step, as numbers: one read from the device."""
        named = self.model.last_losses
        if named:
            values = torch.stack([v.float() for v in named.values()]).tolist()
            self.losses = dict(zip(named, values, strict=True))
        return self.losses

    def lr_factor(self) -> float:
        """The learning rate's share of the recipe's at this point of the run."""
        if self.model.recipe.schedule == "constant":
            return 1.0
        done = max(self.elapsed() / self.opts.budget_s, self.model.steps_done / self.opts.max_steps)
        return max(0.0, min(1.0, 2.0 * (1.0 - done)))

    def set_learning_rate(self, trainer: L.Trainer) -> None:
        lr = self.model.recipe.lr * self.lr_factor()
        for opt in trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    def after_step(self, trainer: L.Trainer) -> bool:
        """Evaluate / checkpoint when due; return True when the run must stop."""
        step, opts = self.model.steps_done, self.opts
        if self.model.recipe.schedule != "constant":
            self.set_learning_rate(trainer)
        if self.average is not None:
            self.average.update(self.model.generator, step)
        if step % max(1, opts.losses_every) == 0:
            self.read_losses()
        now = time.perf_counter()
        self.step_s, self.last_step_t = now - self.last_step_t, now
        due = now - self.last_eval_t >= opts.eval_every_s
        due |= bool(opts.eval_every_steps) and step % opts.eval_every_steps == 0
        stop: StopReason | None = None
        if step >= opts.max_steps:
            stop = "max_steps"
        elif self.elapsed() + self.step_s + self.eval_s >= opts.budget_s:
            # Stop one step early rather than overrun: the final evaluation is due too.
            stop = "budget"
        if due and stop is None:
            self.evaluate()
            self.checkpoint(trainer)
            self.last_step_t = time.perf_counter()  # evaluation is not step time
            if opts.patience and self.stale >= opts.patience:
                stop = "plateau"
        self.report(evaluated=due and stop is None)
        if stop is not None:
            self.stopped = stop
        return stop is not None

    def report(self, *, evaluated: bool) -> None:
        if self.progress is None:
            return
        self.progress(
            Progress(
                self.model.steps_done,
                self.opts.max_steps,
                self.elapsed(),
                self.opts.budget_s,
                dict(self.losses),
                self.history[-1] if self.history else None,
                evaluated,
            )
        )

    def trainer(self) -> L.Trainer:
        return make_trainer(
            self.device, self.precision, [_Controller(self)], strategy=self.strategy
        )

    def fit(self) -> RunResult:
        started = time.perf_counter()
        if self.model.steps_done < self.opts.max_steps and self.prior_s < self.opts.budget_s:
            self.stream.data = place_frames(self.stream.data, self.device)
            self.stream.device = self.device
            loader = DataLoader(self.stream, batch_size=None, num_workers=0)
            with warnings.catch_warnings():
                # Our stream is endless and in memory on purpose; workers would only copy it.
                warnings.filterwarnings(
                    "ignore", ".*(IterableDataset|num_workers|does not have many|LeafSpec).*"
                )
                self.trainer().fit(self.model, train_dataloaders=loader)
        else:
            self.stopped = "max_steps" if self.model.steps_done >= self.opts.max_steps else "budget"
        if not self.ran:  # no step to take, or Lightning stopped before its last hook
            if self.opts.eval_at_start and not self.history:
                self.evaluate()
            self.finish(None)
        if self.average is not None:  # teardown moved the model: the average follows
            self.average.to(self.model.device)
        wall = time.perf_counter() - started
        return RunResult(
            self.last,
            self.best,
            self.model.steps_done,
            self.start_step,
            self.elapsed(),
            self.stopped,
            self.history[-1],
            self.history,
            self.stream.busy_s / wall if wall > 0 else 0.0,
        )

    def finish(self, trainer: L.Trainer | None) -> None:
        """The final evaluation and checkpoint, on the device the run trained on."""
        self.ran = True
        # A run resumed on another worker's disk with its budget already spent has scored
        # its last step but has no best.safetensors here: evaluating writes it.
        if (
            not self.history
            or self.history[-1]["step"] != self.model.steps_done
            or not self.best.exists()
        ):
            self.evaluate()
        self.checkpoint(trainer)
        self.report(evaluated=True)
