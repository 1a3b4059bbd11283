"""The GPU worker's training path, proven on the CPU: nothing made off the device, the
fp16 loss scaler and bf16 through Lightning, the last evaluation before teardown, and
how often a step reads from the device."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from lightning.pytorch.strategies import SingleDeviceStrategy
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from cloud.training.batches import make_batch
from cloud.training.checkpoint import Checkpoint, load_checkpoint
from cloud.training.config import Pix2PixConfig
from cloud.training.data import FrameSet, build_frameset
from cloud.training.device import Precision
from cloud.training.ema import WeightAverage
from cloud.training.loop import Progress, RunOptions, TrainingRun
from cloud.training.losses import discriminator_loss, generator_loss
from cloud.training.model import Pix2Pix
from tests.cloud.training.dancer import write_session
from tests.cloud.training.device_reads import DeviceReads

META = torch.device("meta")


@pytest.fixture
def frames(tmp_path: Path) -> FrameSet:
    return build_frameset([write_session(tmp_path, "s1", frames=6)], 128)


class OffDevice(TorchDispatchMode):
    """Records every op that makes a tensor off the meta device from one on it, or a
    floating-point tensor off it. Host bookkeeping is allowed: scalars (Adam's step
    counters) and indices computed from host indices cost a GPU nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        from_device = any(t.device == META for t in inputs)
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device == META or t.dim() == 0:
                continue
            if from_device or t.is_floating_point():
                self.made.append(f"{func} on {t.device}")
        return out


def test_a_whole_step_makes_nothing_off_the_device(
    frames: FrameSet, tiny_config: Pix2PixConfig
) -> None:
    cfg = tiny_config.model_copy(update={"temporal": True})  # the longer path
    model = Pix2Pix.from_config(cfg).to(META)
    data = frames.to(META)
    opt_g, opt_d = model.configure_optimizers()
    average = WeightAverage(model.generator, 0.9)
    index, flip = torch.tensor([1, 3]), torch.tensor([True, False])  # host data, drawn there
    with OffDevice() as off:
        batch = make_batch(data, index, flip, temporal=True)
        fake, condition = model.fake_and_condition(batch)
        real_condition = torch.cat([batch["pose"], batch["prev_image"]], dim=1)
        d = discriminator_loss(
            model.discriminator, real_condition, batch["image"], fake.detach(), cfg.recipe.gan_mode
        )
        d["d_loss"].backward()
        opt_d.step()
        g = generator_loss(
            model.discriminator,
            condition,
            batch["image"],
            fake,
            "lsgan",
            lambda_l1=100,
            lambda_fm=10,
        )
        g["g_loss"].backward()
        opt_g.step()
        average.update(model.generator, 1)
        with average.applied(model.generator):
            out = model.generate(batch["pose"], fake.detach())
    assert off.made == []
    assert out.device == META and all(v.device == META for v in [*d.values(), *g.values()])
    assert all(v.device == META for v in average.shadow.values())


def _run(
    frames: FrameSet,
    model: Pix2Pix,
    work: Path,
    steps: int,
    precision: Precision,
    resume: Checkpoint | None = None,
) -> tuple[TrainingRun, list[Progress]]:
    opts = RunOptions(
        600, steps, eval_every_s=1e9, device="cpu", precision=precision, losses_every=1
    )
    seen: list[Progress] = []
    run = TrainingRun(
        model, frames, frames.subset([0]), work, opts, resume=resume, progress=seen.append
    )
    run.fit()
    return run, seen


@pytest.mark.slow
def test_fp16_loss_scaler_trains_and_its_state_survives_a_resume(
    tmp_path: Path, frames: FrameSet, tiny_config: Pix2PixConfig
) -> None:
    torch.manual_seed(0)
    run, seen = _run(frames, Pix2Pix.from_config(tiny_config), tmp_path, 1, "16-mixed")
    assert seen and all(math.isfinite(v) for p in seen for v in p.losses.values())
    saved = load_checkpoint(run.last)
    scaler = saved.state["scaler"]  # Lightning's MixedPrecision with a CPU GradScaler
    # Two updates (D, G) moved it from a fresh scaler's: grown-towards or backed off.
    assert (scaler["scale"], scaler["_growth_tracker"]) != (2.0**16, 0)
    # Resume with a scaler that grows at every update: its setting comes back out of
    # the next checkpoint only if the resumed run loaded it (else 2000, the default).
    saved.state["scaler"] = {**scaler, "growth_interval": 1}
    run, seen = _run(frames, saved.build_model(), tmp_path, 2, "16-mixed", resume=saved)
    again = load_checkpoint(run.last).state["scaler"]
    assert again["growth_interval"] == 1
    assert all(math.isfinite(v) for p in seen for v in p.losses.values())


@pytest.mark.slow
def test_bf16_mixed_trains_without_a_scaler(
    tmp_path: Path, frames: FrameSet, tiny_config: Pix2PixConfig
) -> None:
    torch.manual_seed(0)
    run, seen = _run(frames, Pix2Pix.from_config(tiny_config), tmp_path, 1, "bf16-mixed")
    assert [p.step for p in seen] == [1, 1]  # the step, then the final evaluation
    assert all(math.isfinite(v) for p in seen for v in p.losses.values())
    assert "scaler" not in load_checkpoint(run.last).state


class LeavesTheDevice(SingleDeviceStrategy):
    """Tears down as a GPU strategy does: the model leaves the device it trained on (for
    the meta device here, where an evaluation after teardown cannot run)."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(device=torch.device("cpu"))
        self.events = events

    def teardown(self) -> None:
        self.events.append("teardown")
        module = self.lightning_module
        super().teardown()
        if module is not None:
            module.to(META)


def test_the_last_evaluation_and_checkpoint_come_before_teardown(
    tmp_path: Path, frames: FrameSet, tiny_config: Pix2PixConfig
) -> None:
    events: list[str] = []
    model = Pix2Pix.from_config(tiny_config)
    opts = RunOptions(600, 2, eval_every_s=1e9, device="cpu")

    def progress(p: Progress) -> None:
        if p.evaluated:
            events.append(f"evaluated step {p.step}")

    run = TrainingRun(model, frames, frames.subset([0]), tmp_path, opts, progress=progress)
    run.strategy = LeavesTheDevice(events)
    result = run.fit()
    assert events == ["evaluated step 2", "teardown"]
    assert result.metrics["step"] == 2 and load_checkpoint(result.last).step == 2
    assert run.average is not None
    assert {v.device for v in run.average.shadow.values()} == {model.device} == {META}


def test_steps_read_from_the_device_once_per_losses_every_steps(
    tmp_path: Path, frames: FrameSet, tiny_config: Pix2PixConfig
) -> None:
    model = Pix2Pix.from_config(tiny_config)
    device = [*model.parameters(), *model.buffers(), frames.images, frames.poses]
    reads_after: list[int] = []
    with DeviceReads([*device, frames.poses_flipped]) as reads:
        opts = RunOptions(600, 4, eval_every_s=1e9, device="cpu", losses_every=2)
        run = TrainingRun(
            model,
            frames,
            frames.subset([0, 1]),
            tmp_path,
            opts,
            progress=lambda p: reads_after.append(len(reads.where)),
        )
        run.fit()
    assert len(reads_after) == 5  # 4 steps, then the final evaluation
    assert reads_after[3] <= 4 // 2, reads.where[: reads_after[3]]
    scoring = [w for w in reads.where if "evaluation.py" in w or "metrics.py" in w]
    assert len(scoring) == 1, scoring  # all scores in one read
